/* limits.h — named ceilings for every length that comes from outside.
 *
 * Input larger than its ceiling is an error (EXIT_VERIFY), never truncated.
 * One place so a reviewer can see every bound at once.
 */
#ifndef BANGER_LIMITS_H
#define BANGER_LIMITS_H

#define LIMIT_PATH 4096			  /* a path we build or accept */
#define LIMIT_NAME 255			  /* one path component */
#define LIMIT_HTTP_HEADER (16 * 1024)	  /* one HTTP response header line */
#define LIMIT_HTTP_ERROR_BODY (64 * 1024) /* error body kept for the message */
#define LIMIT_JSON_DOC (4 * 1024 * 1024)  /* catalog, manifest, index, config */
#define LIMIT_CATALOG_ENTRIES 4096
#define LIMIT_CATALOG_FIELD 1024 /* one catalog string (distro, version, description) */
#define LIMIT_URL 4096		 /* a URL from a catalog or an index */
#define LIMIT_LAYERS 256	 /* layers in one image */
#define LIMIT_TAR_NAME 4096	 /* a tar entry's name or link target */
#define LIMIT_XATTR_VALUE (64 * 1024)
#define LIMIT_FRAME (1024 * 1024)	   /* one agent protocol frame */
#define LIMIT_CMDLINE 4096		   /* kernel command line */
#define LIMIT_DOWNLOAD (64ULL << 30)	   /* one blob or bundle */
#define LIMIT_REF_NAME 255		   /* image reference domain/path, as Docker */
#define LIMIT_REF_TAG 128		   /* image tag, as Docker */
#define LIMIT_VMLINUZ (256 * 1024 * 1024)  /* a compressed kernel image, read whole */
#define LIMIT_VMLINUX (1ULL << 30)	   /* the ELF cut out of it */
#define LIMIT_DEB_LINE (256 * 1024)	   /* one kept line of a Packages index */
#define LIMIT_DEB_INDEX (1ULL << 30)	   /* a Packages index, uncompressed (streamed) */
#define LIMIT_AGENT_CONTROL (256 * 1024)   /* one JSON control frame (exec argv+env…) */
#define LIMIT_AGENT_ARGS 4096		   /* argv or env entries of one exec */
#define LIMIT_AGENT_WINDOW (256 * 1024)	   /* unacknowledged STDIN/DATA bytes per channel */
#define LIMIT_AGENT_OUTQ (4 * 1024 * 1024) /* frames queued for a peer that is not reading */
#define LIMIT_AGENT_CHANNELS 64		   /* open execs/puts/gets in one session */
#define LIMIT_AGENT_CONNS 32		   /* sessions the agent serves at once */
#define LIMIT_AGENT_PEER_CONNS 16	   /* ... from one peer (a process; a vsock CID) */
#define LIMIT_AGENT_HELLO_MS 3000	   /* from connect to HELLO */
#define LIMIT_AGENT_IDLE_MS 60000	   /* a session with no channel open */
#define LIMIT_AGENT_ENTROPY 512		   /* host entropy bytes in one identity request */
#define LIMIT_AGENT_LINE 256		   /* Firecracker's "OK PORT" line, first-boot.state */
#define LIMIT_CMDLINE_WORDS 256		   /* words on the kernel command line */
#define LIMIT_SSH_KEYS 2048		   /* banger.ssh_key, decoded */
#define LIMIT_DNS_SERVERS 3		   /* banger.dns (resolv.conf honours 3) */
#define LIMIT_MASK_UNITS 16		   /* banger.mask */
#define LIMIT_OS_RELEASE (64 * 1024)	   /* /etc/os-release */
#define LIMIT_MODULES 512		   /* modules in one initramfs */
#define LIMIT_MODULE_SIZE (64 << 20)	   /* one kernel module, decompressed */
#define LIMIT_SELF_BYTES (64 << 20)	   /* the banger binary, copied by the initramfs */
#define LIMIT_MODULES_DEP (16 << 20)	   /* modules.dep, modules.builtin */
#define LIMIT_LEASES (1024 * 1024)	   /* a lease file (store or host): ~80 bytes a VM */
#define LIMIT_STRLIST (16 * 1024)	   /* an image's Env, Entrypoint or Cmd; a VM's env */
#define LIMIT_RUN_USER 256		   /* an image's User, -u */
#define LIMIT_TMPFS 8			   /* banger.tmpfs mounts (vm run --mount type=tmpfs) */
#define LIMIT_QMP_ANSWER 4096		   /* one QEMU monitor answer we wait for */
#define LIMIT_SIZE (1ULL << 44)		   /* a size given on the command line: 16 TiB */
#define LIMIT_SUGGEST_LOCAL 1024	   /* installed names weighed for "did you mean" */

/* ext4 images read back (lib/ext4/read.c): a VM's layer, a base image */
#define LIMIT_EXT4_EXTENTS (1u << 21)	  /* extents (block runs) of one file */
#define LIMIT_EXT4_DIR_ENTRIES (1u << 20) /* entries of one directory */
#define LIMIT_EXT4_DEPTH 256		  /* directories deep */
#define LIMIT_EXT4_JOURNAL (1u << 22)	  /* journal blocks replayed */

/* The Debian archive (lib/deb/) */
#define LIMIT_INRELEASE (16 << 20)  /* a signed InRelease, read whole */
#define LIMIT_PGP_KEYRING (1 << 20) /* a keyring file (Debian's: 56 KiB) */
#define LIMIT_PGP_KEYS 64	    /* RSA keys and subkeys in one keyring */
#define LIMIT_PGP_SIGS 16	    /* signatures on one InRelease (Debian: 3) */
#define LIMIT_PGP_RSA_BITS 4096	    /* BearSSL's largest RSA modulus */
#define LIMIT_PGP_ARMOR (64 * 1024) /* the armored signature block */
#define LIMIT_DEB_PACKAGES 400000   /* paragraphs kept from all indexes of a build */
#define LIMIT_DEB_SELECTED 4096	    /* packages in one image */

#endif
