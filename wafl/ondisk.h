/*
 * ondisk.h - every structure wafl/ writes to a disk or to the NVLOG.
 *
 * This is the format, designed once for everything the file system will
 * need: dual-VBN block pointers, absent pointers (conversion), snapshots
 * (a table of saved fsinfos, per-snapshot maps, a summary map), the volume
 * table of an aggregate, and pre-allocated mirror log files. Fields are
 * little-endian on disk; the code reads and writes them through the
 * le*toh/htole* helpers, and every structure has its size asserted.
 *
 * Disk layout. A disk is a file or block device cut into *slots* of
 * 4160 bytes: a 4096-byte block followed by its 64-byte context, so a block
 * and its context are written by one pwrite. Slot 0 is the disk label,
 * slots 1 and 2 the two superblock copies (each CP writes the copy that
 * does not hold the newest durable superblock, so a torn superblock write
 * always leaves the previous one whole), slot 3 is reserved; data blocks
 * start at slot 4.
 *
 *   slot:  0       1       2       3       4 ...
 *          label   super0  super1  (rsvd)  dbn 0, dbn 1, ...
 *
 * Block numbers. A RAID group maps its VBN range onto its disks; RAID-0
 * stripes VBN v of a group of n disks to disk v % n, dbn v / n. An
 * aggregate's PVBN space is its groups one after another. PVBN 0 is never
 * allocated: a pointer with pvbn 0 is a hole. A flexible volume's VVBN
 * space is the fbn space of its container file in the aggregate.
 */
#ifndef WAFL_ONDISK_H
#define WAFL_ONDISK_H

#include <endian.h>
#include <stdint.h>

/* The structures below are used in place on little-endian hosts; a port to
 * a big-endian host converts them in disk.c, where every block passes. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "wafl/ondisk.h: big-endian hosts need byte swapping in disk.c"
#endif

#define WAFL_SLOT_SIZE	    4160u
#define WAFL_CTX_SIZE	    64u
#define WAFL_SLOT_LABEL	    0u
#define WAFL_SLOT_SUPER0    1u
#define WAFL_SLOT_DATA0	    4u
#define WAFL_FORMAT_VERSION 1u

/*
 * Block context: the 64 bytes after every block.
 *
 *  off size field    meaning
 *    0    8 cksum    checksum of the 4096 data bytes and context bytes 8..63
 *    8    4 magic    WAFL_CTX_MAGIC
 *   12    1 kind     enum wafl_bkind
 *   13    1 level    tree level: 0 = data, 1.. = indirect
 *   14    2 version  WAFL_FORMAT_VERSION
 *   16    4 volid    owning file system instance (aggregate or volume id)
 *   20    4 snapid   reserved: 0
 *   24    8 ino      owning inode (0 = the inode file itself)
 *   32    8 fbn      block index at this level within the file
 *   40    8 cp       CP count that wrote it
 *   48    8 pvbn     where it was written: catches misdirected writes
 *   56    8 vvbn     its VVBN in a flexible volume, else = pvbn
 *
 * A read names what it expects (volid, ino, level, fbn, pvbn) and, from
 * the parent pointer, the cp and low 32 checksum bits: a lost write (old
 * contents still there) fails the cp/checksum match, a torn write fails
 * the checksum, a misdirected one the pvbn or identity.
 */
#define WAFL_CTX_MAGIC 0x584c4257u /* "WBLX" */
enum wafl_bkind {
	WAFL_BK_DATA = 1,
	WAFL_BK_INDIRECT = 2,
	WAFL_BK_INODE = 3, /* inode file data */
	WAFL_BK_DIR = 4,   /* directory data */
	WAFL_BK_MAP = 5,   /* active / summary map data */
	WAFL_BK_META = 6,  /* other metafile data (volume table, snapshot table) */
	WAFL_BK_LABEL = 7,
	WAFL_BK_SUPER = 8,
};

struct wafl_ctx {
	uint64_t cksum;
	uint32_t magic;
	uint8_t kind;
	uint8_t level;
	uint16_t version;
	uint32_t volid;
	uint32_t snapid;
	uint64_t ino;
	uint64_t fbn;
	uint64_t cp;
	uint64_t pvbn;
	uint64_t vvbn;
};
_Static_assert(sizeof(struct wafl_ctx) == WAFL_CTX_SIZE, "context is 64 bytes");

/*
 * Block pointer: 32 bytes, in inodes (4 top pointers) and indirect blocks
 * (128 per block).
 *
 *  off size field  meaning
 *    0    8 pvbn   physical block (0 = hole); with ABSENT: the traditional
 *                  volume's VBN the block will have after conversion
 *    8    8 vvbn   in a flexible volume, the VVBN; elsewhere = pvbn
 *   16    8 cp     CP count the child was written in
 *   24    4 cksum  low 32 bits of the child's checksum
 *   28    4 flags  WAFL_BP_ABSENT: "not here yet, compute where" (convert/)
 */
struct wafl_bptr {
	uint64_t pvbn;
	uint64_t vvbn;
	uint64_t cp;
	uint32_t cksum;
	uint32_t flags;
};
_Static_assert(sizeof(struct wafl_bptr) == 32, "block pointer is 32 bytes");
#define WAFL_BP_ABSENT	    0x1u
#define WAFL_PTRS_PER_BLOCK 128u
#define WAFL_PTR_SHIFT	    7u
#define WAFL_TOP_PTRS	    4u
#define WAFL_MAX_HEIGHT	    6u

/*
 * Inode: 256 bytes, 16 per inode-file block. mode == 0 means free; a free
 * inode keeps its gen so the next user gets gen + 1.
 *
 *  off size field       meaning
 *    0    4 mode        S_IFMT type bits and 07777
 *    4    4 nlink
 *    8    4 uid
 *   12    4 gid
 *   16    8 size        bytes
 *   24    8 blocks      blocks owned (data + indirect)
 *   32    8 atime_sec   signed
 *   40    4 atime_nsec
 *   44    4 mtime_nsec
 *   48    8 mtime_sec
 *   56    8 ctime_sec
 *   64    4 ctime_nsec
 *   68    4 gen         generation: bumped when the inode is reused
 *   72    4 rdev_major
 *   76    4 rdev_minor
 *   80    1 height      tree height: top pointers reach level `height`
 *   81    1 iflags      WAFL_IF_*
 *   82    2 reserved
 *   84    4 reserved
 *   88    8 verf        exclusive-create verifier
 *   96    8 parent      directories: the ".." inode
 *  104    8 crtime_sec  creation time
 *  112    4 crtime_nsec
 *  116   12 reserved
 *  128  128 top[4]      block pointers
 */
struct wafl_dinode {
	uint32_t mode;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	uint64_t blocks;
	int64_t atime_sec;
	uint32_t atime_nsec;
	uint32_t mtime_nsec;
	int64_t mtime_sec;
	int64_t ctime_sec;
	uint32_t ctime_nsec;
	uint32_t gen;
	uint32_t rdev_major;
	uint32_t rdev_minor;
	uint8_t height;
	uint8_t iflags;
	uint16_t rsvd0;
	uint32_t rsvd1;
	uint64_t verf;
	uint64_t parent;
	int64_t crtime_sec;
	uint32_t crtime_nsec;
	uint8_t rsvd2[12];
	struct wafl_bptr top[WAFL_TOP_PTRS];
};
_Static_assert(sizeof(struct wafl_dinode) == 256, "inode is 256 bytes");
#define WAFL_INODES_PER_BLOCK 16u
#define WAFL_IF_META	      0x01 /* a metafile: never in a directory */
#define WAFL_IF_CONTAINER     0x02 /* an aggregate's container file for a flexvol */
#define WAFL_IF_PREALLOC      0x04 /* mirror log file: blocks overwritten in place */
#define WAFL_IF_EXCL	      0x08 /* created EXCLUSIVE and not yet setattr'd */

/* Fixed inode numbers in every file system instance. */
#define WAFL_INO_INODEFILE 0  /* the inode file's inode lives in fsinfo */
#define WAFL_INO_ACTIVEMAP 1  /* one bit per VBN: 1 = in use by the active fs */
#define WAFL_INO_ROOT	   2  /* root directory (volumes) */
#define WAFL_INO_SUMMARY   3  /* OR of all snapshot maps */
#define WAFL_INO_SNAPTAB   4  /* snapshot table: its root is in fsinfo (no inode) */
#define WAFL_INO_VOLTAB	   5  /* aggregate: the flexible volume table */
#define WAFL_INO_MIRLOG	   6  /* directory of pre-allocated mirror log files */
#define WAFL_INO_FIRST	   16 /* first inode for files */

/*
 * fsinfo: the root of one file system instance, 384 bytes. For an
 * aggregate or traditional volume it sits in the superblock; for a
 * flexible volume in its volume-table entry; for a snapshot in the
 * snapshot table.
 *
 *  off size field        meaning
 *    0    4 magic        WAFL_FSI_MAGIC
 *    4    4 type         WAFL_FST_*
 *    8    4 volid
 *   12    4 nsnaps       snapshots in the table
 *   16    8 fsid         NFS fsid
 *   24    8 cp           CP count of this image
 *   32    8 space_blocks VBNs in the space (VVBNs for a flexvol)
 *   40    8 used_blocks  bits set in the active map
 *   48    8 inodes_used
 *   56    8 ino_hint     where inode allocation looks next
 *   64    8 ctime_sec    when the instance was made
 *   72    8 next_snapid
 *   80   32 snaptab      the snapshot table's index block (hole: none)
 *  112    4 sflags       WAFL_FSF_*
 *  116    4 gen_next     the newest inode generation handed out
 *  120    8 reserved
 *  128  256 inofile      the inode file's inode (its mode, size, top[])
 *
 * The snapshot table is rooted here and not in the inode file: an entry
 * holds a copy of the fsinfo of the CP that wrote it, inode-file root and
 * checksums included, so it cannot live inside the tree it describes.
 * It is a fixed two-level tree: the index block (level 1, ino
 * WAFL_INO_SNAPTAB) points at up to 32 entry blocks (level 0), eight
 * 512-byte entries each.
 *
 * Generations come from gen_next, one counter per instance, so a handle
 * never names a later file even after a snapshot restore brings older
 * inodes back.
 */
#define WAFL_FSI_MAGIC 0x49534657u /* "WFSI" */
enum wafl_fstype { WAFL_FST_AGGR = 1, WAFL_FST_TRAD = 2, WAFL_FST_FLEX = 3 };
struct wafl_fsinfo {
	uint32_t magic;
	uint32_t type;
	uint32_t volid;
	uint32_t nsnaps;
	uint64_t fsid;
	uint64_t cp;
	uint64_t space_blocks;
	uint64_t used_blocks;
	uint64_t inodes_used;
	uint64_t ino_hint;
	int64_t ctime_sec;
	uint64_t next_snapid;
	struct wafl_bptr snaptab;
	uint32_t sflags;
	uint32_t gen_next;
	uint8_t rsvd[8];
	struct wafl_dinode inofile;
};
#define WAFL_FSF_SNAPDIR_VISIBLE 0x1 /* readdir lists .snapshot */
#define WAFL_FSF_SUMMARY_STALE	 0x2 /* a deletion's summary rebuild is unfinished */
#define WAFL_FSF_SPLITTING	 0x4 /* a clone split is under way */
_Static_assert(sizeof(struct wafl_fsinfo) == 384, "fsinfo is 384 bytes");

/*
 * Disk label: slot 0 of each disk (a block with a context, kind LABEL).
 *
 *  off size field       meaning
 *    0    4 magic       WAFL_LABEL_MAGIC
 *    4    4 version
 *    8   16 aggr_uuid   the aggregate this disk belongs to
 *   24   16 disk_uuid
 *   40    4 group       RAID group index
 *   44    4 position    position in the group
 *   48    8 dbn_count   data slots on this disk
 *   56   64 aggr_name
 */
#define WAFL_LABEL_MAGIC 0x4c424c57u /* "WLBL" */
struct wafl_label {
	uint32_t magic;
	uint32_t version;
	uint8_t aggr_uuid[16];
	uint8_t disk_uuid[16];
	uint32_t group;
	uint32_t position;
	uint64_t dbn_count;
	char aggr_name[64];
};
_Static_assert(sizeof(struct wafl_label) == 120, "label is 120 bytes");

/*
 * Superblock: slots 1 and 2 of every disk, written alternately; the valid
 * one with the highest cp wins. Writing it is the single atomic commit of
 * a consistency point, the aggregate's flexible volumes included.
 *
 *  off  size field        meaning
 *    0     4 magic        WAFL_SUPER_MAGIC
 *    4     4 version
 *    8    16 aggr_uuid
 *   24     8 cp           this CP's number
 *   32     4 kind         enum wafl_aggr_kind
 *   36     4 ngroups
 *   40     8 nvlog_bytes  the NVLOG's size when created
 *   48    16 nvlog_uuid   the NVLOG that belongs to this aggregate
 *   64    64 name
 *  128   384 fsinfo       the aggregate's (or traditional volume's) root
 *  512  16*G groups[G]    per RAID group: level u32, ndisks u32, dbn_count u64
 * 1024 16*D disks[D]     disk uuids, group by group, in position order
 * (G <= 32, D <= 192)
 */
#define WAFL_SUPER_MAGIC 0x50555357u /* "WSUP" */
#define WAFL_MAX_GROUPS	 32u
#define WAFL_MAX_DISKS	 192u
enum wafl_raid_level { WAFL_RAID0 = 0, WAFL_RAID4 = 4, WAFL_RAID_DP = 6 };
struct wafl_sgroup {
	uint32_t level;
	uint32_t ndisks;
	uint64_t dbn_count;
};
struct wafl_super {
	uint32_t magic;
	uint32_t version;
	uint8_t aggr_uuid[16];
	uint64_t cp;
	uint32_t kind;
	uint32_t ngroups;
	uint64_t nvlog_bytes;
	uint8_t nvlog_uuid[16];
	char name[64];
	struct wafl_fsinfo fsinfo;
	struct wafl_sgroup groups[WAFL_MAX_GROUPS];
	uint8_t disks[WAFL_MAX_DISKS][16];
};
_Static_assert(sizeof(struct wafl_super) == 1024 + 16 * WAFL_MAX_DISKS, "superblock layout");
_Static_assert(sizeof(struct wafl_super) <= 4096, "superblock fits a block");

/*
 * Volume table (aggregate inode WAFL_INO_VOLTAB): 1024-byte entries, four
 * per block; entry i describes the flexible volume with slot i.
 *
 *  off size field        meaning
 *    0    4 state        0 = free slot, else enum wafl_vol_state
 *    4    4 volid
 *    8    8 container    container file inode in the aggregate
 *   16   64 name
 *   80    8 size_bytes   the volume's size (a quota on blocks in use)
 *   88    4 guarantee    enum wafl_guarantee
 *   92    4 flags        WAFL_VF_*
 *   96    8 parent_volid clones: the parent volume (0 = none)
 *  104    8 parent_snap  clones: the parent's snapshot id
 *  112  144 reserved
 *  256  384 fsinfo       the volume's root
 *  640  384 reserved
 */
struct wafl_volent {
	uint32_t state;
	uint32_t volid;
	uint64_t container;
	char name[64];
	uint64_t size_bytes;
	uint32_t guarantee;
	uint32_t flags;
	uint64_t parent_volid;
	uint64_t parent_snap;
	uint8_t rsvd0[144];
	struct wafl_fsinfo fsinfo;
	uint8_t rsvd1[384];
};
_Static_assert(sizeof(struct wafl_volent) == 1024, "volume entry is 1 KiB");
#define WAFL_VOLENTS_PER_BLOCK 4u
#define WAFL_VF_MIRROR_DST     0x1 /* read-only mirror destination */

/*
 * Snapshot table (rooted in fsinfo.snaptab, see above): 512-byte
 * entries, eight per block, up to 255 used.
 *
 *  off size field     meaning
 *    0    4 snapid    0 = free slot
 *    4    4 flags      WAFL_SNAP_*
 *    8    8 ctime_sec
 *   16    4 ctime_nsec
 *   20    4 reserved
 *   24    8 tab_vvbn  the table's index block as the snapshot's CP wrote it:
 *   32    8 tab_pvbn  its map holds that table, which its tree does not reach
 *   40    8 reserved
 *   48   64 name      NUL-terminated
 *  112   16 reserved
 *  128  384 fsinfo    the saved root; its active map is the snapshot's map
 *
 * A block is free when neither the active map nor the summary map (inode
 * WAFL_INO_SUMMARY: the OR of every snapshot's map) has it. A new
 * snapshot's map equals the active map until the next CP changes it, so
 * that CP ORs it into the summary before it frees anything (UNMERGED
 * marks the entries still to be merged).
 */
#define WAFL_SNAP_UNMERGED 0x1
#define WAFL_SNAPTAB_BLOCKS 32u
#define WAFL_SNAPS_PER_BLOCK 8u
struct wafl_snapent {
	uint32_t snapid;
	uint32_t flags;
	int64_t ctime_sec;
	uint32_t ctime_nsec;
	uint32_t rsvd0;
	uint64_t tab_vvbn;
	uint64_t tab_pvbn;
	uint8_t rsvd[8];
	char name[64];
	uint8_t rsvd2[16];
	struct wafl_fsinfo fsinfo;
};
_Static_assert(sizeof(struct wafl_snapent) == 512, "snapshot entry is 512 bytes");

/*
 * NVLOG file: a 4096-byte header, then two halves of half_bytes each.
 * Records of the operations that CP n will contain ("epoch n") go to half
 * n % 2 from its start. A half is reused only after the CP that contains
 * its records is durable.
 *
 * Header:
 *  off size field      meaning
 *    0    4 magic      WAFL_NVH_MAGIC
 *    4    4 version
 *    8   16 uuid       must equal the superblock's nvlog_uuid
 *   24    8 half_bytes
 *
 * Record (8-byte aligned):
 *  off size field      meaning
 *    0    4 magic      WAFL_NVR_MAGIC
 *    4    4 len        whole record, header included, multiple of 8
 *    8    8 epoch      the CP that will contain it
 *   16    8 seq        log sequence number: consecutive across halves
 *   24    8 cksum      over bytes 0..23 and the payload
 *   32  len-32 payload  operation: u16 op, u16 flags, u32 volid, then
 *                       the operation's fields (replay.c)
 * Replay reads half (C+1) % 2 then half C % 2 (C = superblock cp) and
 * stops at the first record whose magic, checksum, epoch or seq is wrong.
 */
#define WAFL_NVH_MAGIC 0x484c5657u /* "WVLH" */
#define WAFL_NVR_MAGIC 0x524c5657u /* "WVLR" */
struct wafl_nvhdr {
	uint32_t magic;
	uint32_t version;
	uint8_t uuid[16];
	uint64_t half_bytes;
};
struct wafl_nvrec {
	uint32_t magic;
	uint32_t len;
	uint64_t epoch;
	uint64_t seq;
	uint64_t cksum;
};
_Static_assert(sizeof(struct wafl_nvrec) == 32, "log record header is 32 bytes");

#endif
