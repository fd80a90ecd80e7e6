#include "name.h"
#include <ctype.h>
#include <string.h>
#include "path.h"

int instance_name_check(const char *name, isola_error *err)
{
	if (!name || !*name)
		return isola_err(err, EINVAL, "instance name: must not be empty");
	size_t n = strlen(name);
	if (n > INSTANCE_NAME_MAX)
		return isola_err(err, EINVAL, "instance name \"%.70s...\": longer than %d characters (%zu)", name,
		                 INSTANCE_NAME_MAX, n);
	if (isdigit((unsigned char)name[0]))
		return isola_err(err, EINVAL, "instance name \"%s\": must not start with a digit", name);
	if (name[0] == '-')
		return isola_err(err, EINVAL, "instance name \"%s\": must not start with '-'", name);
	if (name[n - 1] == '-')
		return isola_err(err, EINVAL, "instance name \"%s\": must not end with '-'", name);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!(isascii(c) && (isalnum(c) || c == '-')))
			return isola_err(err, EINVAL,
			                 "instance name \"%s\": character %zu ('%c') is not allowed (only letters, "
			                 "digits and '-')",
			                 name, i + 1, isprint(c) ? c : '?');
	}
	return 0;
}

int object_name_check(const char *kind, const char *name, isola_error *err)
{
	if (!name || !*name)
		return isola_err(err, EINVAL, "%s name: must not be empty", kind);
	if (!name_is_safe_component(name, 63))
		return isola_err(err, EINVAL, "%s name \"%s\": must be 1..63 bytes, no '/', not \".\" or \"..\"", kind,
		                 name);
	for (const char *p = name; *p; p++)
		if (isspace((unsigned char)*p) || *p == '"' || *p == '\'')
			return isola_err(err, EINVAL, "%s name \"%s\": must not contain spaces or quotes", kind, name);
	return 0;
}
