#include "yaml.h"
#include "cleanup.h"
#include "json.h"
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

DEFINE_CLEANUP(yaml_parser_t *, yaml_parser_delete)

static json_t *plain_scalar(const char *v, size_t len)
{
	if (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	    strcmp(v, "NULL") == 0)
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
static json_t *parse_node(yaml_parser_t *p, yaml_event_t *ev, int depth, isola_error *err);

static int next_event(yaml_parser_t *p, yaml_event_t *ev, isola_error *err)
{
	if (!yaml_parser_parse(p, ev))
		return isola_err(err, EINVAL, "line %zu column %zu: %s%s%s", p->problem_mark.line + 1,
		                 p->problem_mark.column + 1, p->problem ? p->problem : "parse error",
		                 p->context ? " " : "", p->context ? p->context : "");
	return 0;
}

static json_t *parse_mapping(yaml_parser_t *p, int depth, isola_error *err)
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
			isola_err(err, EINVAL, "line %zu: a mapping key must be a scalar", line);
			return NULL;
		}
		_cleanup_free_ char *key = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
		size_t line = ev.start_mark.line + 1;
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
		json_t *v = parse_node(p, &vev, depth + 1, err);
		if (!v) {
			isola_err_wrap(err, "%s", key);
			return NULL;
		}
		json_object_set_new(obj, key, v);
	}
}

static json_t *parse_sequence(yaml_parser_t *p, int depth, isola_error *err)
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
		json_t *v = parse_node(p, &ev, depth + 1, err);
		if (!v) {
			isola_err_wrap(err, "[%zu]", idx);
			return NULL;
		}
		json_array_append_new(arr, v);
	}
}

static json_t *parse_node(yaml_parser_t *p, yaml_event_t *ev, int depth, isola_error *err)
{
	size_t line = ev->start_mark.line + 1;
	if (depth > YAML_MAX_DEPTH) {
		yaml_event_delete(ev);
		isola_err(err, EINVAL, "line %zu: nested deeper than %d levels", line, YAML_MAX_DEPTH);
		return NULL;
	}
	json_t *v = NULL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor) {
			isola_err(err, EINVAL, "line %zu: anchors are not accepted", line);
			break;
		}
		if (ev->data.scalar.plain_implicit && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			v = plain_scalar((const char *)ev->data.scalar.value, ev->data.scalar.length);
		else
			v = json_stringn((const char *)ev->data.scalar.value, ev->data.scalar.length);
		if (!v)
			isola_err(err, EINVAL, "line %zu: scalar is not valid UTF-8", line);
		break;
	case YAML_MAPPING_START_EVENT:
		if (ev->data.mapping_start.anchor) {
			isola_err(err, EINVAL, "line %zu: anchors are not accepted", line);
			break;
		}
		yaml_event_delete(ev);
		return parse_mapping(p, depth, err);
	case YAML_SEQUENCE_START_EVENT:
		if (ev->data.sequence_start.anchor) {
			isola_err(err, EINVAL, "line %zu: anchors are not accepted", line);
			break;
		}
		yaml_event_delete(ev);
		return parse_sequence(p, depth, err);
	case YAML_ALIAS_EVENT: isola_err(err, EINVAL, "line %zu: aliases (*name) are not accepted", line); break;
	default: isola_err(err, EINVAL, "line %zu: unexpected YAML event %d", line, ev->type); break;
	}
	yaml_event_delete(ev);
	return v;
}

json_t *yaml_to_json(const char *buf, size_t len, isola_error *err)
{
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
		root = parse_node(p, &ev, 0, err);
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
