#!/bin/sh
# hub-backup: one backup of the cdof hub's store, taken while the hub runs, then rotation.
#
#   hub-backup [--hub PROG] [--data DIR] [--dest DIR] [--keep N]
#
# Writes DEST/hub-YYYYMMDDTHHMMSSZ (data.mdb, mode 0600) through a hidden .partial directory
# renamed into place only once `cdof-hub backup` succeeded, so a failed or interrupted run
# never counts as a copy and never costs an old one. Then removes the oldest hub-* copies
# beyond N (--keep, else $CDOF_BACKUP_KEEP, else 7). Run by cdof-hub-backup.service.
set -eu

hub=@CDOF_BINDIR@/cdof-hub
data=/var/lib/cdof/hub
dest=/var/backups/cdof
keep=${CDOF_BACKUP_KEEP:-7}

die() {
    echo "hub-backup: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || die "$1 needs a value"
    case "$1" in
    --hub) hub=$2 ;;
    --data) data=$2 ;;
    --dest) dest=$2 ;;
    --keep) keep=$2 ;;
    *) die "unknown argument '$1' (usage: hub-backup [--hub PROG] [--data DIR] [--dest DIR] [--keep N])" ;;
    esac
    shift 2
done
case "$keep" in
'' | *[!0-9]*) die "--keep (CDOF_BACKUP_KEEP): '$keep' is not a whole number" ;;
esac
[ "$keep" -ge 1 ] || die "--keep (CDOF_BACKUP_KEEP) must be at least 1"
[ -d "$dest" ] || die "backup directory $dest does not exist (the cdof-hub package creates it)"

umask 077
name=hub-$(date -u +%Y%m%dT%H%M%SZ)
partial=$dest/.$name.partial
[ ! -e "$dest/$name" ] || die "$dest/$name exists already (two backups in one second?)"
rm -rf "$partial"
if ! "$hub" backup --data "$data" "$partial"; then
    rm -rf "$partial"
    die "cdof-hub backup of $data failed: nothing rotated"
fi
chmod 0700 "$partial"
mv "$partial" "$dest/$name"
echo "hub-backup: $dest/$name"

# Rotation: the names sort by time; keep the newest $keep.
count=$(find "$dest" -mindepth 1 -maxdepth 1 -type d -name 'hub-*' | wc -l)
if [ "$count" -gt "$keep" ]; then
    find "$dest" -mindepth 1 -maxdepth 1 -type d -name 'hub-*' | LC_ALL=C sort |
        head -n $((count - keep)) | while read -r old; do
        rm -rf "$old"
        echo "hub-backup: removed $old (keeping $keep)"
    done
fi
