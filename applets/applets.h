/* applets.h — the one table of applets, sorted by name.
 *
 * APPLET(name, ident, where, summary): `name` is the command (and symlink)
 * name, `ident` prefixes the applet's NAME_main() and NAME_usage[] in
 * applets/NAME.c, `where` is HOST or GUEST (every applet is in every build;
 * GUEST ones log without colour: their stderr is the serial console).
 * Include after defining APPLET.
 */
APPLET("agent", agent, HOST, "talk to a guest's agent: ping, exec, put, get, shutdown")
APPLET("completion", completion, HOST, "shell completion for bash, zsh and fish")
APPLET("doctor", doctor, HOST, "check this host can run microVMs, with the fix for each problem")
APPLET("first-boot", first_boot, GUEST, "guest init: mount, configure, hand over to systemd")
APPLET("image-import", image_import, HOST, "register a local ext4 file as an image")
APPLET("image-list", image_list, HOST, "list the installed images")
APPLET("image-pack", image_pack, HOST, "make a deterministic image bundle and catalog entry")
APPLET("image-prune", image_prune, HOST, "remove cached blobs (and with -a images) nothing uses")
APPLET("image-pull", image_pull, HOST, "pull an OCI or catalog image into a bootable ext4")
APPLET("image-rm", image_rm, HOST, "remove installed images")
APPLET("initramfs", initramfs, HOST, "build the initramfs that boots a stock kernel into banger")
APPLET("kernel-import", kernel_import, HOST,
       "register a local kernel (vmlinux, or cut from a vmlinuz)")
APPLET("kernel-list", kernel_list, HOST, "list installed kernels, or the catalog's")
APPLET("kernel-pack", kernel_pack, HOST, "make a deterministic kernel bundle and catalog entry")
APPLET("kernel-prune", kernel_prune, HOST, "remove leftovers (and with -a kernels) nothing uses")
APPLET("kernel-pull", kernel_pull, HOST, "download a verified guest kernel from the catalog")
APPLET("kernel-rm", kernel_rm, HOST, "remove an installed kernel")
APPLET("snapshot-list", snapshot_list, HOST, "list snapshots: what each is of, its size")
APPLET("snapshot-rm", snapshot_rm, HOST, "remove snapshots")
APPLET("vm-cp", vm_cp, HOST, "copy files into or out of a running microVM")
APPLET("vm-create", vm_create, HOST, "create a microVM without starting it")
APPLET("vm-exec", vm_exec, HOST, "run a command in a running microVM")
APPLET("vm-inspect", vm_inspect, HOST, "everything known about microVMs, as JSON")
APPLET("vm-kill", vm_kill, HOST, "signal a microVM's VMM at once (default KILL)")
APPLET("vm-list", vm_list, HOST, "list microVMs and their state")
APPLET("vm-logs", vm_logs, HOST, "print a microVM's console log")
APPLET("vm-pause", vm_pause, HOST, "freeze a running microVM's vCPUs (vm resume lets them go on)")
APPLET("vm-port", vm_port, HOST, "list a microVM's published ports (-p)")
APPLET("vm-ps", vm_ps, HOST, "list microVMs and their state (as vm-list)")
APPLET("vm-restart", vm_restart, HOST, "stop a microVM, then boot it again")
APPLET("vm-resume", vm_resume, HOST, "let a paused microVM run on")
APPLET("vm-rm", vm_rm, HOST, "stop and remove microVMs and their network")
APPLET("vm-run", vm_run, HOST, "create and boot a microVM, then run a command or shell")
APPLET("vm-snapshot", vm_snapshot, HOST,
       "save a running microVM to start from later (vm start --from)")
APPLET("vm-ssh", vm_ssh, HOST, "open an SSH session to a microVM")
APPLET("vm-start", vm_start, HOST, "boot a created or stopped microVM in the background")
APPLET("vm-stop", vm_stop, HOST, "shut a microVM down, orderly then forced")
APPLET("vsock-agent", vsock_agent, GUEST, "guest agent answering the host over vsock")
