/* seccomp: OCI linux.seccomp → a BPF program built with libseccomp in the parent, loaded with one
 * seccomp(2) call in the child. Contract in seccomp.h. */
#include "runtime/seccomp.h"

#include <ctype.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "explain.h"
#include "json.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

static void seccomp_releasep(scmp_filter_ctx *c)
{
	if (*c)
		seccomp_release(*c);
}

/* ---- name tables (runtime-spec config-linux.md "Seccomp") ---- */

enum act_kind { ACT_PLAIN, ACT_ERRNO, ACT_TRACE };
static const struct {
	const char *name;
	uint32_t action;
	enum act_kind kind;
} actions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, ACT_PLAIN},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, ACT_PLAIN},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, ACT_PLAIN},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, ACT_PLAIN},
    {"SCMP_ACT_ERRNO", 0, ACT_ERRNO},
    {"SCMP_ACT_TRACE", 0, ACT_TRACE},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, ACT_PLAIN},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, ACT_PLAIN},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, ACT_PLAIN},
};

static const struct {
	const char *name;
	enum scmp_compare op;
} operators[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

static const struct {
	const char *name;
	unsigned int flag;
} filter_flags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

static const char *const arch_names[] = {
    "SCMP_ARCH_X86",         "SCMP_ARCH_X86_64", "SCMP_ARCH_X32",       "SCMP_ARCH_ARM",     "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",        "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",    "SCMP_ARCH_PPC64",     "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",       "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64",  "SCMP_ARCH_RISCV64",
};

/* "SCMP_ARCH_X86_64" → the libseccomp token; 0 when unknown. */
static uint32_t arch_token(const char *name)
{
	size_t i;
	for (i = 0; i < ARRAY_SIZE(arch_names); i++)
		if (strcmp(name, arch_names[i]) == 0)
			break;
	if (i == ARRAY_SIZE(arch_names))
		return 0;
	char low[32];
	const char *s = name + strlen("SCMP_ARCH_");
	size_t n = 0;
	for (; *s && n + 1 < sizeof(low); s++)
		low[n++] = (char)tolower((unsigned char)*s);
	low[n] = 0;
	return seccomp_arch_resolve_name(low);
}

/* action + errnoRet of obj (a rule, or the profile itself with prefix "default") */
static int parse_action(json_t *obj, const char *jpath, const char *key, const char *errkey, uint32_t *out,
                        isola_error *err)
{
	const char *name = NULL;
	if (json_get_str(obj, jpath, key, true, &name, err) < 0)
		return -1;
	size_t i;
	for (i = 0; i < ARRAY_SIZE(actions); i++)
		if (strcmp(name, actions[i].name) == 0)
			break;
	if (i == ARRAY_SIZE(actions))
		return isola_err(err, 0, "%s: unknown action \"%s\"", json_path_key(jpath, key), name);
	/* runtime-spec: errnoRet defaults to EPERM for SCMP_ACT_ERRNO (and is the trace message for TRACE) */
	int64_t ret = actions[i].kind == ACT_ERRNO ? EPERM : 0;
	if (json_get_int(obj, jpath, errkey, false, &ret, err) < 0)
		return -1;
	if (ret < 0 || ret > 0xffff)
		return isola_err(err, 0, "%s: %lld is out of range (0..65535)", json_path_key(jpath, errkey),
		                 (long long)ret);
	switch (actions[i].kind) {
	case ACT_ERRNO: *out = SCMP_ACT_ERRNO((uint32_t)ret); break;
	case ACT_TRACE: *out = SCMP_ACT_TRACE((uint32_t)ret); break;
	default: *out = actions[i].action;
	}
	return 0;
}

static int parse_arg(json_t *a, const char *jpath, struct scmp_arg_cmp *cmp, isola_error *err)
{
	if (!json_is_object(a))
		return isola_err(err, 0, "%s: expected an object", jpath);
	uint64_t index = 0;
	/* jansson integers are int64: a value above INT64_MAX (a mask like 0xffffffff00000000) can only be
	 * written as its two's complement negative, so accept negatives and reinterpret them as uint64 */
	int64_t value = 0, value2 = 0;
	const char *op = NULL;
	if (json_get_uint(a, jpath, "index", true, &index, err) < 0 ||
	    json_get_int(a, jpath, "value", true, &value, err) < 0 ||
	    json_get_int(a, jpath, "valueTwo", false, &value2, err) < 0 ||
	    json_get_str(a, jpath, "op", true, &op, err) < 0)
		return -1;
	if (index > 5)
		return isola_err(err, 0, "%s: %llu is not a syscall argument index (0..5)",
		                 json_path_key(jpath, "index"), (unsigned long long)index);
	size_t i;
	for (i = 0; i < ARRAY_SIZE(operators); i++)
		if (strcmp(op, operators[i].name) == 0)
			break;
	if (i == ARRAY_SIZE(operators))
		return isola_err(err, 0, "%s: unknown operator \"%s\"", json_path_key(jpath, "op"), op);
	/* libseccomp: for SCMP_CMP_MASKED_EQ datum_a is the mask and datum_b the value, which is how the
	 * OCI fields line up (value = mask, valueTwo = datum). Both are full 64-bit (CVE-2019-10063). */
	*cmp = (struct scmp_arg_cmp){
	    .arg = (unsigned)index, .op = operators[i].op, .datum_a = (uint64_t)value, .datum_b = (uint64_t)value2};
	return 0;
}

/* One OCI rule for one syscall. libseccomp refuses two comparisons on the same argument in one rule
 * (-EINVAL), so such a rule is split into one rule per comparison of that argument, as runc does; the
 * rules then match when ANY of those comparisons holds. */
static int add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const char *name, struct scmp_arg_cmp *cmps,
                    size_t ncmp, const char *jpath, size_t *nrules, isola_error *err)
{
	bool dup = false;
	for (size_t i = 0; i < ncmp && !dup; i++)
		for (size_t j = i + 1; j < ncmp; j++)
			if (cmps[i].arg == cmps[j].arg)
				dup = true;
	int r;
	if (!dup) {
		r = seccomp_rule_add_array(ctx, action, nr, (unsigned)ncmp, cmps);
		if (r < 0)
			return isola_err(err, -r, "%s: add rule for %s", jpath, name);
		(*nrules)++;
		return 0;
	}
	for (size_t i = 0; i < ncmp; i++) {
		r = seccomp_rule_add_array(ctx, action, nr, 1, &cmps[i]);
		if (r < 0)
			return isola_err(err, -r, "%s: add rule for %s (args[%zu])", jpath, name, i);
		(*nrules)++;
	}
	return 0;
}

static int parse_syscalls(scmp_filter_ctx ctx, json_t *arr, const char *jpath, uint32_t def_action, bool *notify,
                          size_t *nrules, isola_error *err)
{
	size_t i;
	json_t *rule;
	json_array_foreach(arr, i, rule)
	{
		char rpath[256];
		snprintf(rpath, sizeof(rpath), "%s", json_path_idx(jpath, i));
		if (!json_is_object(rule))
			return isola_err(err, 0, "%s: expected an object", rpath);
		_cleanup_strv_ char **names = NULL;
		uint32_t action;
		json_t *args = NULL;
		if (json_get_strv(rule, rpath, "names", true, &names, err) < 0 ||
		    parse_action(rule, rpath, "action", "errnoRet", &action, err) < 0 ||
		    json_get_arr(rule, rpath, "args", false, &args, err) < 0)
			return -1;
		if (action == SCMP_ACT_NOTIFY)
			*notify = true;
		size_t ncmp = args ? json_array_size(args) : 0;
		if (ncmp > 6)
			return isola_err(err, 0, "%s: at most 6 argument comparisons", json_path_key(rpath, "args"));
		struct scmp_arg_cmp cmps[6];
		for (size_t a = 0; a < ncmp; a++) {
			char apath[300];
			snprintf(apath, sizeof(apath), "%s", json_path_idx(json_path_key(rpath, "args"), a));
			if (parse_arg(json_array_get(args, a), apath, &cmps[a], err) < 0)
				return -1;
		}
		/* A rule whose action is the default changes nothing; libseccomp rejects it (-EACCES). */
		if (action == def_action)
			continue;
		for (char **n = names; *n; n++) {
			int nr = seccomp_syscall_resolve_name(*n);
			/* profiles name syscalls of newer kernels/libseccomp: skip them, as runc and crun do */
			if (nr == __NR_SCMP_ERROR)
				continue;
			if (add_rule(ctx, action, nr, *n, cmps, ncmp, rpath, nrules, err) < 0)
				return -1;
		}
	}
	return 0;
}

/* libseccomp 2.5 can only export to an fd: go through a memfd and read the program back. */
static int export_bpf(scmp_filter_ctx ctx, struct isola_seccomp *sc, isola_error *err)
{
	_cleanup_close_ int mfd = memfd_create("isola-seccomp-bpf", MFD_CLOEXEC);
	if (mfd < 0)
		return isola_err(err, errno, "memfd_create for the seccomp program");
	int r = seccomp_export_bpf(ctx, mfd);
	if (r < 0)
		return isola_err(err, -r, "seccomp_export_bpf");
	struct stat st;
	if (fstat(mfd, &st) < 0)
		return isola_err(err, errno, "fstat seccomp program");
	if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 || st.st_size > 0xffff * 8)
		return isola_err(err, 0, "seccomp_export_bpf produced %lld bytes", (long long)st.st_size);
	sc->bpf = malloc((size_t)st.st_size);
	if (!sc->bpf)
		return isola_err(err, ENOMEM, "seccomp program");
	if (pread(mfd, sc->bpf, (size_t)st.st_size, 0) != st.st_size)
		return isola_err(err, errno ? errno : EIO, "read back the seccomp program");
	sc->bpf_len = (size_t)st.st_size / sizeof(struct sock_filter);
	return 0;
}

void isola_seccomp_free(struct isola_seccomp *sc)
{
	if (!sc)
		return;
	free(sc->bpf);
	free(sc->listener_path);
	free(sc->listener_metadata);
	free(sc);
}

int isola_seccomp_build(json_t *obj, const char *jpath, struct isola_seccomp **out, isola_error *err)
{
	*out = NULL;
	if (!obj || json_is_null(obj))
		return 0;
	if (!json_is_object(obj))
		return isola_err(err, 0, "%s: expected an object", jpath);
	_cleanup_seccomp_ struct isola_seccomp *sc = calloc(1, sizeof(*sc));
	if (!sc)
		return isola_err(err, ENOMEM, "seccomp");

	uint32_t def_action;
	if (parse_action(obj, jpath, "defaultAction", "defaultErrnoRet", &def_action, err) < 0)
		return -1;
	sc->notify = def_action == SCMP_ACT_NOTIFY;
	__attribute__((cleanup(seccomp_releasep))) scmp_filter_ctx ctx = seccomp_init(def_action);
	if (!ctx)
		return isola_err(err, EINVAL, "%s: seccomp_init(defaultAction)", jpath);
	/* we load the program ourselves; NO_NEW_PRIVS is the runtime's decision (process.noNewPrivileges) */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);

	json_t *archs = NULL;
	if (json_get_arr(obj, jpath, "architectures", false, &archs, err) < 0)
		return -1;
	size_t i;
	json_t *a;
	json_array_foreach(archs, i, a)
	{
		const char *ap = json_path_idx(json_path_key(jpath, "architectures"), i);
		if (!json_is_string(a))
			return isola_err(err, 0, "%s: expected a string", ap);
		uint32_t tok = arch_token(json_string_value(a));
		if (!tok)
			return isola_err(err, 0, "%s: unknown architecture \"%s\"", ap, json_string_value(a));
		int r = seccomp_arch_add(ctx, tok);
		if (r < 0 && r != -EEXIST)
			return isola_err(err, -r, "%s: add architecture %s", ap, json_string_value(a));
	}

	json_t *flags = NULL;
	if (json_get_arr(obj, jpath, "flags", false, &flags, err) < 0)
		return -1;
	json_array_foreach(flags, i, a)
	{
		const char *fp = json_path_idx(json_path_key(jpath, "flags"), i);
		size_t f;
		for (f = 0; f < ARRAY_SIZE(filter_flags); f++)
			if (json_is_string(a) && strcmp(json_string_value(a), filter_flags[f].name) == 0)
				break;
		if (f == ARRAY_SIZE(filter_flags))
			return isola_err(err, 0, "%s: unknown seccomp flag %s", fp,
			                 json_is_string(a) ? json_string_value(a) : "(not a string)");
		sc->flags |= filter_flags[f].flag;
	}

	json_t *syscalls = NULL;
	if (json_get_arr(obj, jpath, "syscalls", false, &syscalls, err) < 0)
		return -1;
	if (syscalls && parse_syscalls(ctx, syscalls, json_path_key(jpath, "syscalls"), def_action, &sc->notify,
	                               &sc->nrules, err) < 0)
		return -1;

	const char *lp = NULL, *lm = NULL;
	if (json_get_str(obj, jpath, "listenerPath", false, &lp, err) < 0 ||
	    json_get_str(obj, jpath, "listenerMetadata", false, &lm, err) < 0)
		return -1;
	if (sc->notify && (!lp || !*lp))
		return isola_err(err, 0, "%s: SCMP_ACT_NOTIFY needs listenerPath", jpath);
	if (lp && (lp[0] != '/' || strlen(lp) >= sizeof(((struct sockaddr_un *)0)->sun_path)))
		return isola_err(err, 0, "%s: must be an absolute path shorter than %zu bytes",
		                 json_path_key(jpath, "listenerPath"), sizeof(((struct sockaddr_un *)0)->sun_path));
	if ((lp && !(sc->listener_path = strdup(lp))) || (lm && !(sc->listener_metadata = strdup(lm))))
		return isola_err(err, ENOMEM, "seccomp listener");
	if (sc->notify)
		sc->flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;

	if (export_bpf(ctx, sc, err) < 0)
		return isola_err_wrap(err, "%s", jpath);
	*out = steal_ptr(&sc);
	return 0;
}

int isola_seccomp_install(const struct isola_seccomp *sc, isola_error *err)
{
	if (!sc)
		return 0;
	struct sock_fprog prog = {.len = (unsigned short)sc->bpf_len, .filter = sc->bpf};
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, sc->flags, &prog);
	EXPLAIN(r, "seccomp(2)", "seccomp(SECCOMP_SET_MODE_FILTER, %#x, {len=%zu})", sc->flags, sc->bpf_len);
	if (r < 0)
		return isola_err(err, errno, "seccomp(SECCOMP_SET_MODE_FILTER) with %zu instructions%s", sc->bpf_len,
		                 errno == EACCES ? " (needs no_new_privs or CAP_SYS_ADMIN)" : "");
	return sc->notify ? (int)r : 0;
}

int isola_seccomp_send_listener(const struct isola_seccomp *sc, json_t *oci_state, pid_t pid, int listener_fd,
                                isola_error *err)
{
	if (!sc || !sc->listener_path)
		return isola_err(err, EINVAL, "no seccomp listenerPath");
	_cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return isola_err(err, errno, "socket for seccomp listener %s", sc->listener_path);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sc->listener_path);
	int r = connect(s, (struct sockaddr *)&sa, sizeof(sa));
	EXPLAIN(r, "connect(2)", "connect(%s)", sc->listener_path);
	if (r < 0)
		return isola_err(err, errno, "connect to seccomp listener %s", sc->listener_path);

	/* runtime-spec runtime.md "State" / config-linux.md "listenerPath": the container process state */
	_cleanup_json_ json_t *msg = json_pack(
	    "{s:s, s:[s], s:i, s:s, s:O}", "ociVersion", "1.0.2", "fds", "seccompFd", "pid", (int)pid, "metadata",
	    sc->listener_metadata ? sc->listener_metadata : "", "state", oci_state ? oci_state : json_null());
	if (!msg)
		return isola_err(err, ENOMEM, "seccomp state");
	_cleanup_free_ char *text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return isola_err(err, ENOMEM, "seccomp state");
	size_t len = strlen(text);
	struct iovec iov = {.iov_base = text, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &listener_fd, sizeof(int));
	ssize_t n = sendmsg(s, &mh, MSG_NOSIGNAL);
	EXPLAIN(n, "unix(7)", "sendmsg(%s, %zu bytes, SCM_RIGHTS[%d])", sc->listener_path, len, listener_fd);
	if (n < 0)
		return isola_err(err, errno, "send seccomp state to %s", sc->listener_path);
	/* the rest (if the state is larger than one write) goes without the fd */
	for (size_t off = (size_t)n; off < len;) {
		ssize_t w = write(s, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return isola_err(err, errno, "send seccomp state to %s", sc->listener_path);
		off += (size_t)w;
	}
	return 0;
}

json_t *isola_seccomp_features(void)
{
	json_t *acts = json_array(), *ops = json_array(), *archs = json_array(), *known = json_array();
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		json_array_append_new(acts, json_string(actions[i].name));
	for (size_t i = 0; i < ARRAY_SIZE(operators); i++)
		json_array_append_new(ops, json_string(operators[i].name));
	for (size_t i = 0; i < ARRAY_SIZE(arch_names); i++)
		if (arch_token(arch_names[i]))
			json_array_append_new(archs, json_string(arch_names[i]));
	for (size_t i = 0; i < ARRAY_SIZE(filter_flags); i++)
		json_array_append_new(known, json_string(filter_flags[i].name));
	return json_pack("{s:b, s:o, s:o, s:o, s:o, s:O}", "enabled", 1, "actions", acts, "operators", ops, "archs",
	                 archs, "knownFlags", known, "supportedFlags", known);
}
