/*
 * Returning output files after the run: single files, whole directories and
 * globs, each regular file once, with its permission bits, within the spec's
 * size and count limits. What cannot be returned is reported, never fatal.
 */
#ifndef VMSTEP_OUTPUTS_H
#define VMSTEP_OUTPUTS_H

#include "spec.h"

/* Returns 0, or -1 when the connection to the host broke. */
int outputs_send(int sock, const struct run_spec *spec);

/* Lexically normalises an absolute path in place: no "", "." or ".." components. */
void path_normalize(char *path);

#endif
