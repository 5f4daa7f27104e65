/* embed.S — config files and initramfs/ lists built into the binary; see embed.h. Each file gets
 * its own section so --gc-sections drops what no applet uses. Paths are
 * relative to the top of the tree (make runs there). */

.macro EMBED name, path
	.section .rodata.embed_\name,"a"
	.global embed_\name
	.global embed_\name\()_end
embed_\name:
	.incbin "\path"
embed_\name\()_end:
	.byte 0
.endm

EMBED unit_first_boot, "config/systemd/banger-first-boot.service"
EMBED unit_vsock_agent, "config/systemd/banger-vsock-agent.service"
EMBED kernels_catalog, "config/kernels.json"
EMBED images_catalog, "config/images.json"
EMBED initramfs_content, "initramfs/content.list"
EMBED initramfs_mods_default, "initramfs/modules/default.list"
EMBED initramfs_mods_debian_cloud, "initramfs/modules/debian-cloud.list"
EMBED debian_keyring, "config/debian-archive-keyring.gpg"

	.section .note.GNU-stack,"",@progbits
