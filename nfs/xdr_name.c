/*
 * xdr_name.c - a strict XDR string decoder for names and paths.
 *
 * libtirpc's xdr_string decodes a counted string into a C string, so a
 * name with a NUL byte inside ("a\0b") silently becomes a shorter name
 * ("a"). A client must not be able to reach one file by naming another,
 * so the generated NFSv3 and MOUNT code calls this instead (the build
 * substitutes it for xdr_string in the generated _xdr.c files): a NUL inside the
 * counted bytes fails the decode, and the call gets GARBAGE_ARGS.
 */
#include <rpc/rpc.h>
#include <stdlib.h>
#include <string.h>

bool_t xdr_filer_string(XDR *x, char **s, u_int max);

bool_t xdr_filer_string(XDR *x, char **s, u_int max)
{
	if (x->x_op != XDR_DECODE)
		return xdr_string(x, s, max);
	u_int len;
	if (!xdr_u_int(x, &len) || len > max)
		return FALSE;
	char *p = *s;
	if (!p) {
		p = malloc((size_t)len + 1);
		if (!p)
			return FALSE;
		*s = p; /* xdr_free releases it even if the rest fails */
	}
	p[0] = 0;
	if (len && !xdr_opaque(x, p, len))
		return FALSE;
	p[len] = 0;
	return memchr(p, 0, len) == NULL;
}
