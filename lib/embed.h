/* embed.h — files from config/ and initramfs/ built into the binary
 * (lib/embed.S).
 *
 * Each is NUL-terminated; the size excludes the NUL. Read-only, static.
 * Adding one: a line in embed.S (EMBED name, "config/path") and one here.
 */
#ifndef BANGER_EMBED_H
#define BANGER_EMBED_H

#include <stddef.h>
#include <stdint.h>

struct embedded {
	const char *data;
	size_t size;
};

#define EMBED_DECLARE(name)                                                                        \
	extern const char embed_##name[];                                                          \
	extern const char embed_##name##_end[];                                                    \
	static inline struct embedded embedded_##name(void)                                        \
	{                                                                                          \
		return (struct embedded){ embed_##name, (size_t)((uintptr_t)embed_##name##_end -   \
								 (uintptr_t)embed_##name) };       \
	}

EMBED_DECLARE(unit_first_boot)
EMBED_DECLARE(unit_vsock_agent)
EMBED_DECLARE(kernels_catalog)
EMBED_DECLARE(images_catalog)
EMBED_DECLARE(initramfs_content)
EMBED_DECLARE(initramfs_mods_default)
EMBED_DECLARE(initramfs_mods_debian_cloud)
EMBED_DECLARE(debian_keyring)

#endif
