/*
 * Returning output files after the run: single files, whole directories and
 * globs, each regular file once, with its permission bits, within the spec's
 * size and count limits. What cannot be returned is reported, never fatal.
 */
#ifndef VMSTEP_OUTPUTS_H
#define VMSTEP_OUTPUTS_H

#include <dirent.h>
#include <stddef.h>

#include "spec.h"

/* Returns 0, or -1 when the connection to the host broke. */
int outputs_send(int sock, const struct run_spec *spec);

/* Lexically normalises an absolute path in place: no "", "." or ".." components. */
void path_normalize(char *path);

/* The names in a directory but "." and "..", sorted (a stable order for the host); free with dir_names_free. */
size_t dir_names_sorted(DIR *d, char ***names);
void dir_names_free(char **names, size_t n);

#endif
