#include "firewall.h"
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cleanup.h"
#include "explain.h"

DEFINE_CLEANUP(struct nft_ctx *, nft_ctx_free)

/* open_memstream with the ruleset built line by line */
static void emit_forwards(FILE *f, const struct fw_network *n)
{
	char la[16], ta[16];
	for (size_t i = 0; i < n->nforwards; i++) {
		const struct fw_forward *w = &n->forwards[i];
		ip4_format(w->target_addr, ta, sizeof ta);
		if (w->listen_addr)
			fprintf(f, "\t\tip daddr %s %s dport %u dnat ip to %s:%u\n",
			        ip4_format(w->listen_addr, la, sizeof la), w->proto, w->listen_port, ta,
			        w->target_port);
		else /* 0.0.0.0: any address of this host (fib(8): "type local") */
			fprintf(f, "\t\tfib daddr type local %s dport %u dnat ip to %s:%u\n", w->proto, w->listen_port,
			        ta, w->target_port);
	}
}

char *fw_ruleset_text(const struct fw_network *n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	char net4[24] = "", net6[64] = "";
	if (n->has4) {
		struct cidr4 c = {cidr4_net(n->v4), n->v4.prefix};
		cidr4_format(c, true, net4, sizeof net4);
	}
	if (n->has6) {
		struct cidr6 c = n->v6;
		memset(c.addr + 8, 0, 8);
		cidr6_format(&c, true, net6, sizeof net6);
	}
	/* "table" first makes the "delete" valid when the table does not exist yet: one idempotent batch. */
	fprintf(f, "table inet isola-%s\ndelete table inet isola-%s\ntable inet isola-%s {\n", n->name, n->name,
	        n->name);
	/* Masquerade what leaves the network through any other interface (the uplink). */
	fprintf(f, "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
	if (n->has4 && n->nat4)
		fprintf(f, "\t\tip saddr %s oifname != \"%s\" masquerade\n", net4, n->bridge);
	if (n->has6 && n->nat6)
		fprintf(f, "\t\tip6 saddr %s oifname != \"%s\" masquerade\n", net6, n->bridge);
	fprintf(f, "\t}\n");
	/* Port forwards: prerouting for traffic arriving from outside, output for connections the host itself
	 * makes (locally generated packets never traverse prerouting; nft(8) "NAT", hook output). */
	fprintf(f, "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n");
	emit_forwards(f, n);
	fprintf(f, "\t}\n\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n");
	emit_forwards(f, n);
	fprintf(f, "\t}\n");
	/* DHCP and DNS from the bridge to our dnsmasq; an explicit accept documents the contract (it cannot
	 * override a drop in another table — see docs/netd.md on host firewalls). */
	fprintf(f,
	        "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"
	        "\t\tiifname \"%s\" udp dport { 53, 67, 547 } accept\n"
	        "\t\tiifname \"%s\" tcp dport 53 accept\n"
	        "\t\tiifname \"%s\" icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept\n"
	        "\t}\n",
	        n->bridge, n->bridge, n->bridge);
	/* Isolation: nothing routed INTO this network from elsewhere (another isola network, the uplink)
	 * unless it answers a flow the network opened or is a port forward we DNAT'ed. */
	fprintf(f,
	        "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n"
	        "\t\toifname \"%s\" iifname != \"%s\" ct state established,related accept\n"
	        "\t\toifname \"%s\" iifname != \"%s\" ct status dnat accept\n"
	        "\t\toifname \"%s\" iifname != \"%s\" drop\n"
	        "\t}\n}\n",
	        n->bridge, n->bridge, n->bridge, n->bridge, n->bridge, n->bridge);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *fw_delete_text(const char *name)
{
	char *s = NULL;
	if (asprintf(&s, "table inet isola-%s\ndelete table inet isola-%s\n", name, name) < 0)
		return NULL;
	return s;
}

int fw_apply(const char *batch, isola_error *err)
{
	_cleanup_(nft_ctx_freep) struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx)
		return isola_err(err, ENOMEM, "nft_ctx_new");
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	int r = nft_run_cmd_from_buffer(ctx, batch);
	int saved = r < 0 ? (errno ? errno : EINVAL) : 0;
	EXPLAIN(r, "libnftables(3)", "nft_run_cmd_from_buffer(batch of %zu bytes: %.*s…)", strlen(batch),
	        (int)(strchr(batch, '\n') ? strchr(batch, '\n') - batch : (long)strlen(batch)), batch);
	if (explain_enabled)
		fprintf(stderr, "explain:   nft batch:\n%s", batch);
	if (r < 0) {
		const char *e = nft_ctx_get_error_buffer(ctx);
		return isola_err(err, saved, "nftables batch failed: %s", e && *e ? e : "(no message)");
	}
	return 0;
}

bool fw_table_exists(const char *name)
{
	_cleanup_(nft_ctx_freep) struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx)
		return false;
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	char cmd[64];
	snprintf(cmd, sizeof cmd, "list table inet isola-%s", name);
	int r = nft_run_cmd_from_buffer(ctx, cmd);
	EXPLAIN(r, "libnftables(3)", "nft_run_cmd_from_buffer(\"%s\")", cmd);
	return r == 0;
}
