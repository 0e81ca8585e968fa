/* nc-error.h - the NC_ERROR domain: one code enum for every fallible call
 *
 * Every fallible netcarry function returns gboolean (or a pointer) and sets a
 * GError in this domain. Foreign error sources (errno, netlink, libxml2,
 * libvirt) are converted at exactly one boundary each.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NC_ERROR (nc_error_quark())

/**
 * NcErrorCode - why a netcarry call failed
 * @NC_ERROR_FAILED:       nothing more specific applies
 * @NC_ERROR_INVALID_ARG:  bad command-line or API argument
 * @NC_ERROR_INVALID_DATA: input (a file, a message) is malformed or fails its schema
 * @NC_ERROR_IO:           reading or writing a file or socket failed
 * @NC_ERROR_NETLINK:      the kernel refused a netlink request
 * @NC_ERROR_NOT_FOUND:    a named object (namespace, domain, entry) does not exist
 * @NC_ERROR_EXISTS:       the object to create exists already
 * @NC_ERROR_PERMISSION:   the caller lacks a privilege (CAP_NET_ADMIN, root)
 * @NC_ERROR_UNSUPPORTED:  the kernel or host lacks a needed capability
 * @NC_ERROR_PARTIAL:      some items of a batch failed; the whole batch was rolled back
 * @NC_ERROR_TIMEOUT:      a bounded wait ran out
 */
typedef enum {
    NC_ERROR_FAILED,
    NC_ERROR_INVALID_ARG,
    NC_ERROR_INVALID_DATA,
    NC_ERROR_IO,
    NC_ERROR_NETLINK,
    NC_ERROR_NOT_FOUND,
    NC_ERROR_EXISTS,
    NC_ERROR_PERMISSION,
    NC_ERROR_UNSUPPORTED,
    NC_ERROR_PARTIAL,
    NC_ERROR_TIMEOUT,
} NcErrorCode;

GQuark nc_error_quark(void);

NcErrorCode nc_error_code_from_errno(int err);

G_END_DECLS
