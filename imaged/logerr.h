/* "message: strerror" of an isola_error for a log line (a compound-literal buffer that lives until the
 * end of the enclosing full expression's block). */
#pragma once
#include "error.h"
#define ERR_STR(e) isola_err_str((e), (char[ISOLA_ERR_MSG_MAX + 128]){0}, ISOLA_ERR_MSG_MAX + 128)
