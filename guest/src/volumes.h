/*
 * Volumes: trees the host copied onto a disk of their own (an ext4 it wrote
 * from the host's files), made to appear at their guest paths. Guest init
 * mounts the disk, gives every file to the run's user, bind-mounts each
 * volume at its path and detaches the disk's own mount, so the command sees
 * its volumes and nothing else of the disk.
 */
#ifndef VMSTEP_VOLUMES_H
#define VMSTEP_VOLUMES_H

#include <stddef.h>

#include "spec.h"
#include "user.h"

/* Returns 0 (also when there are none), or -1 with a message for the host in err. */
int volumes_mount(const struct run_spec *spec, const struct run_user *user, char *err, size_t errlen);

#endif
