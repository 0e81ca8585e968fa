/* nc-error.c - the NC_ERROR domain and the errno boundary
 */
#include <errno.h>

#include "nc-error.h"

G_DEFINE_QUARK(netcarry-error-quark, nc_error)

/**
 * nc_error_code_from_errno() - map an errno (as returned by a syscall or netlink) to a code
 * @err: positive errno value
 *
 * Return: the NcErrorCode a caller should report
 */
NcErrorCode nc_error_code_from_errno(int err)
{
    switch (err) {
    case EPERM:
    case EACCES:
        return NC_ERROR_PERMISSION;
    case ENOENT:
    case ESRCH:
        return NC_ERROR_NOT_FOUND;
    case EEXIST:
        return NC_ERROR_EXISTS;
    case EINVAL:
    case ERANGE:
        return NC_ERROR_INVALID_DATA;
    case EOPNOTSUPP:
    case EPROTONOSUPPORT:
    case EAFNOSUPPORT:
        return NC_ERROR_UNSUPPORTED;
    case ETIMEDOUT:
        return NC_ERROR_TIMEOUT;
    default:
        return NC_ERROR_FAILED;
    }
}
