#include "yamljson.h"
#include "cleanup.h"
#include "json.h"
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

DEFINE_CLEANUP(yaml_parser_t *, yaml_parser_delete)

static bool is_null(const char *v, size_t len)
{
	return len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	       strcmp(v, "NULL") == 0;
}

/* What every scalar (key or value) must pass: no anchor, a core-schema tag at most, no NUL byte. */
static int scalar_check(const yaml_event_t *ev, size_t line, isola_error *err)
{
	if (ev->data.scalar.anchor)
		return isola_err(err, EINVAL, "line %zu: anchors (&name) are not accepted", line);
	const char *tag = (const char *)ev->data.scalar.tag;
	static const char *const core[] = {YAML_STR_TAG, YAML_INT_TAG, YAML_BOOL_TAG, YAML_NULL_TAG, YAML_FLOAT_TAG};
	if (tag) {
		bool ok = false;
		for (size_t i = 0; i < sizeof core / sizeof *core; i++)
			ok |= !strcmp(tag, core[i]);
		if (!ok)
			return isola_err(err, EINVAL, "line %zu: tag \"%s\" is not accepted", line, tag);
	}
	if (memchr(ev->data.scalar.value, 0, ev->data.scalar.length))
		return isola_err(err, EINVAL, "line %zu: a NUL byte in a scalar is not accepted", line);
	return 0;
}

static json_t *plain_scalar(const char *v, size_t len)
{
	if (is_null(v, len))
		return json_null();
	if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0)
		return json_true();
	if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 || strcmp(v, "FALSE") == 0)
		return json_false();
	const char *p = v;
	if (*p == '-' || *p == '+')
		p++;
	if (*p >= '0' && *p <= '9' && strspn(p, "0123456789") == strlen(p) && (p[0] != '0' || p[1] == 0)) {
		errno = 0;
		char *end;
		long long n = strtoll(v, &end, 10);
		if (errno == 0 && *end == 0)
			return json_integer(n);
	}
	return json_stringn(v, len);
}

/* Parse the node that starts with event ev (already taken); recursive for collections. */
static json_t *parse_node(yaml_parser_t *p, yaml_event_t *ev, int depth, enum yaml_scalars mode, isola_error *err);

static int next_event(yaml_parser_t *p, yaml_event_t *ev, isola_error *err)
{
	if (!yaml_parser_parse(p, ev))
		return isola_err(err, EINVAL, "line %zu column %zu: %s%s%s", p->problem_mark.line + 1,
		                 p->problem_mark.column + 1, p->problem ? p->problem : "parse error",
		                 p->context ? " " : "", p->context ? p->context : "");
	return 0;
}

static json_t *parse_mapping(yaml_parser_t *p, int depth, enum yaml_scalars mode, isola_error *err)
{
	_cleanup_json_ json_t *obj = json_object();
	for (;;) {
		yaml_event_t ev;
		if (next_event(p, &ev, err) < 0)
			return NULL;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return steal_ptr(&obj);
		}
		if (ev.type != YAML_SCALAR_EVENT) {
			size_t line = ev.start_mark.line + 1;
			yaml_event_delete(&ev);
			isola_err(err, EINVAL, "line %zu: a mapping key must be a scalar (a string), not a %s", line,
			          ev.type == YAML_MAPPING_START_EVENT    ? "mapping"
			          : ev.type == YAML_SEQUENCE_START_EVENT ? "sequence"
			          : ev.type == YAML_ALIAS_EVENT          ? "alias"
			                                                 : "non-scalar");
			return NULL;
		}
		size_t line = ev.start_mark.line + 1;
		if (scalar_check(&ev, line, err) < 0) {
			yaml_event_delete(&ev);
			return NULL;
		}
		_cleanup_free_ char *key = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
		yaml_event_delete(&ev);
		if (!key) {
			isola_err(err, ENOMEM, "line %zu: key", line);
			return NULL;
		}
		if (json_object_get(obj, key)) {
			isola_err(err, EINVAL, "line %zu: duplicate key \"%s\"", line, key);
			return NULL;
		}
		yaml_event_t vev;
		if (next_event(p, &vev, err) < 0)
			return NULL;
		json_t *v = parse_node(p, &vev, depth + 1, mode, err);
		if (!v) {
			isola_err_wrap(err, "%s", key);
			return NULL;
		}
		json_object_set_new(obj, key, v);
	}
}

static json_t *parse_sequence(yaml_parser_t *p, int depth, enum yaml_scalars mode, isola_error *err)
{
	_cleanup_json_ json_t *arr = json_array();
	for (;;) {
		yaml_event_t ev;
		if (next_event(p, &ev, err) < 0)
			return NULL;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return steal_ptr(&arr);
		}
		size_t idx = json_array_size(arr);
		json_t *v = parse_node(p, &ev, depth + 1, mode, err);
		if (!v) {
			isola_err_wrap(err, "[%zu]", idx);
			return NULL;
		}
		json_array_append_new(arr, v);
	}
}

static json_t *parse_node(yaml_parser_t *p, yaml_event_t *ev, int depth, enum yaml_scalars mode, isola_error *err)
{
	size_t line = ev->start_mark.line + 1;
	if (depth > YAML_MAX_DEPTH) {
		yaml_event_delete(ev);
		isola_err(err, EINVAL, "line %zu: nested deeper than %d levels", line, YAML_MAX_DEPTH);
		return NULL;
	}
	json_t *v = NULL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT: {
		if (scalar_check(ev, line, err) < 0)
			break;
		const char *text = (const char *)ev->data.scalar.value;
		size_t n = ev->data.scalar.length;
		bool plain = ev->data.scalar.plain_implicit && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (plain && mode == YAML_STRINGS)
			v = is_null(text, n) ? json_null() : json_stringn(text, n);
		else if (plain)
			v = plain_scalar(text, n);
		else
			v = json_stringn(text, n);
		if (!v)
			isola_err(err, EINVAL, "line %zu: scalar is not valid UTF-8", line);
		break;
	}
	case YAML_MAPPING_START_EVENT:
		if (ev->data.mapping_start.anchor) {
			isola_err(err, EINVAL, "line %zu: anchors (&name) are not accepted", line);
			break;
		}
		if (ev->data.mapping_start.tag && strcmp((const char *)ev->data.mapping_start.tag, YAML_MAP_TAG)) {
			isola_err(err, EINVAL, "line %zu: tag \"%s\" is not accepted", line,
			          (const char *)ev->data.mapping_start.tag);
			break;
		}
		yaml_event_delete(ev);
		return parse_mapping(p, depth, mode, err);
	case YAML_SEQUENCE_START_EVENT:
		if (ev->data.sequence_start.anchor) {
			isola_err(err, EINVAL, "line %zu: anchors (&name) are not accepted", line);
			break;
		}
		if (ev->data.sequence_start.tag && strcmp((const char *)ev->data.sequence_start.tag, YAML_SEQ_TAG)) {
			isola_err(err, EINVAL, "line %zu: tag \"%s\" is not accepted", line,
			          (const char *)ev->data.sequence_start.tag);
			break;
		}
		yaml_event_delete(ev);
		return parse_sequence(p, depth, mode, err);
	case YAML_ALIAS_EVENT: isola_err(err, EINVAL, "line %zu: aliases (*name) are not accepted", line); break;
	default: isola_err(err, EINVAL, "line %zu: unexpected YAML event %d", line, ev->type); break;
	}
	yaml_event_delete(ev);
	return v;
}

json_t *yaml_to_json(const char *buf, size_t len, isola_error *err)
{
	return yaml_to_json_mode(buf, len, YAML_TYPED, err);
}

json_t *yaml_to_json_mode(const char *buf, size_t len, enum yaml_scalars mode, isola_error *err)
{
	if (len > YAML_MAX_INPUT) {
		isola_err(err, EFBIG, "%zu bytes of YAML (at most %u)", len, YAML_MAX_INPUT);
		return NULL;
	}
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		isola_err(err, ENOMEM, "yaml parser");
		return NULL;
	}
	_cleanup_(yaml_parser_deletep) yaml_parser_t *p = &parser;
	yaml_parser_set_input_string(p, (const unsigned char *)buf, len);
	yaml_event_t ev;
	if (next_event(p, &ev, err) < 0) /* STREAM-START */
		return NULL;
	yaml_event_delete(&ev);
	if (next_event(p, &ev, err) < 0)
		return NULL;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return json_object();
	}
	if (ev.type != YAML_DOCUMENT_START_EVENT) {
		yaml_event_delete(&ev);
		isola_err(err, EINVAL, "expected a document");
		return NULL;
	}
	yaml_event_delete(&ev);
	if (next_event(p, &ev, err) < 0)
		return NULL;
	_cleanup_json_ json_t *root = NULL;
	if (ev.type == YAML_DOCUMENT_END_EVENT) {
		yaml_event_delete(&ev);
		root = json_object();
	} else {
		root = parse_node(p, &ev, 0, mode, err);
		if (!root)
			return NULL;
		if (next_event(p, &ev, err) < 0)
			return NULL;
		yaml_event_delete(&ev); /* DOCUMENT-END */
	}
	if (next_event(p, &ev, err) < 0)
		return NULL;
	bool more = ev.type != YAML_STREAM_END_EVENT;
	size_t line = ev.start_mark.line + 1;
	yaml_event_delete(&ev);
	if (more) {
		isola_err(err, EINVAL, "line %zu: more than one YAML document", line);
		return NULL;
	}
	return steal_ptr(&root);
}

json_t *doc_to_json(const char *buf, size_t len, enum yaml_scalars mode, const char *what, isola_error *err)
{
	size_t i = strspn(buf, " \t\r\n");
	_cleanup_json_ json_t *doc = NULL;
	if (i < len && buf[i] == '{') {
		json_error_t je;
		doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
		if (!doc) {
			isola_err(err, EINVAL, "%s: line %d: %s (JSON)", what, je.line, je.text);
			return NULL;
		}
	} else {
		doc = yaml_to_json_mode(buf, len, mode, err);
		if (!doc) {
			isola_err_wrap(err, "%s", what);
			return NULL;
		}
	}
	if (!json_is_object(doc)) {
		isola_err(err, EINVAL, "%s: expected a mapping (YAML) or an object (JSON) at the top", what);
		return NULL;
	}
	return steal_ptr(&doc);
}
