/* applets.h — the one table of applets, sorted by name.
 *
 * APPLET(name, ident, where, summary): `name` is the command (and symlink)
 * name, `ident` prefixes the applet's NAME_main() and NAME_usage[] in
 * applets/NAME.c, `where` is HOST or GUEST (documentation only: every
 * applet is in every build). Include after defining APPLET.
 */
APPLET("agent", agent, HOST, "talk to a guest's agent: ping, exec, put, get, shutdown")
APPLET("first-boot", first_boot, GUEST, "guest init: mount, configure, hand over to systemd")
APPLET("image-import", image_import, HOST, "register a local ext4 file as an image")
APPLET("image-list", image_list, HOST, "list the installed images")
APPLET("image-pack", image_pack, HOST, "make a deterministic image bundle and catalog entry")
APPLET("image-pull", image_pull, HOST, "pull an OCI or catalog image into a bootable ext4")
APPLET("image-rm", image_rm, HOST, "remove installed images")
APPLET("initramfs", initramfs, HOST, "build the initramfs that boots a stock kernel into banger")
APPLET("kernel-import", kernel_import, HOST,
       "register a local kernel (vmlinux, or cut from a vmlinuz)")
APPLET("kernel-list", kernel_list, HOST, "list installed kernels, or the catalog's")
APPLET("kernel-pack", kernel_pack, HOST, "make a deterministic kernel bundle and catalog entry")
APPLET("kernel-pull", kernel_pull, HOST, "download a verified guest kernel from the catalog")
APPLET("kernel-rm", kernel_rm, HOST, "remove an installed kernel")
APPLET("vm-run", vm_run, HOST, "create and boot a microVM, then run a command or shell")
APPLET("vsock-agent", vsock_agent, GUEST, "guest agent answering the host over vsock")
