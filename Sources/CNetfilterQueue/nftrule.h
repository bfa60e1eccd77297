#ifndef CNETFILTERQUEUE_NFTRULE_H
#define CNETFILTERQUEUE_NFTRULE_H
#include "shim.h"
#include <stdlib.h>
#include <sys/time.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/xt_connmark.h>

/*
 * Moves the fast-path rule to a new epoch without a process: the `-m connmark --mark OLD/MASK` match of
 * the driver's rules (iptables-nft writes it as an nf_tables `match` expression holding the xtables
 * connmark info) is replaced in place, by rule handle, in one nf_tables transaction (a batch) over
 * netlink. Every other expression of the rule is copied as the kernel dumped it.
 */

/** Room for the replacement rules of one batch (a fast-path rule is a few hundred bytes). */
#define CNFT_BATCH_SIZE 16384

typedef struct cnft_rewrite {
    const char *table;
    const char *chain;
    uint32_t mask;
    uint32_t old_mark;
    uint32_t new_mark;
    /** Any mark under `mask` matches, not only `old_mark`. */
    int any_old;
    char *out;
    size_t out_len;
    uint32_t seq;
    int found;
    int overflow;
} cnft_rewrite;

static inline int cnft_attr_table(const struct nlattr *attr, void *data, int max) {
    const struct nlattr **tb = (const struct nlattr **)data;
    int type = mnl_attr_get_type(attr);
    if (type <= max) {
        tb[type] = attr;
    }
    return MNL_CB_OK;
}

static inline int cnft_rule_attr(const struct nlattr *attr, void *data) {
    return cnft_attr_table(attr, data, NFTA_RULE_MAX);
}

static inline int cnft_expr_attr(const struct nlattr *attr, void *data) {
    return cnft_attr_table(attr, data, NFTA_EXPR_MAX);
}

static inline int cnft_match_attr(const struct nlattr *attr, void *data) {
    return cnft_attr_table(attr, data, NFTA_MATCH_MAX);
}

/** The connmark info inside `elem` (one expression) when it is the match wanted, else NULL. */
static inline struct xt_connmark_mtinfo1 *cnft_connmark_info(const struct nlattr *elem, const cnft_rewrite *w) {
    const struct nlattr *expr[NFTA_EXPR_MAX + 1];
    memset(expr, 0, sizeof expr);
    if (mnl_attr_parse_nested(elem, cnft_expr_attr, expr) < 0 || expr[NFTA_EXPR_NAME] == NULL ||
        expr[NFTA_EXPR_DATA] == NULL || strcmp(mnl_attr_get_str(expr[NFTA_EXPR_NAME]), "match") != 0) {
        return NULL;
    }
    const struct nlattr *match[NFTA_MATCH_MAX + 1];
    memset(match, 0, sizeof match);
    if (mnl_attr_parse_nested(expr[NFTA_EXPR_DATA], cnft_match_attr, match) < 0 || match[NFTA_MATCH_NAME] == NULL ||
        match[NFTA_MATCH_INFO] == NULL || strcmp(mnl_attr_get_str(match[NFTA_MATCH_NAME]), "connmark") != 0 ||
        mnl_attr_get_payload_len(match[NFTA_MATCH_INFO]) < sizeof(struct xt_connmark_mtinfo1)) {
        return NULL;
    }
    struct xt_connmark_mtinfo1 *info = (struct xt_connmark_mtinfo1 *)mnl_attr_get_payload(match[NFTA_MATCH_INFO]);
    if (info->mask != w->mask || (!w->any_old && info->mark != w->old_mark) || info->invert != 0) {
        return NULL;
    }
    return info;
}

/** One dumped rule: when it holds the wanted match, appends its replacement (new mark) to `w->out`. */
static inline int cnft_rule_cb(const struct nlmsghdr *nlh, void *data) {
    cnft_rewrite *w = (cnft_rewrite *)data;
    const struct nlattr *tb[NFTA_RULE_MAX + 1];
    memset(tb, 0, sizeof tb);
    if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), cnft_rule_attr, tb) < 0 || tb[NFTA_RULE_TABLE] == NULL ||
        tb[NFTA_RULE_CHAIN] == NULL || tb[NFTA_RULE_HANDLE] == NULL || tb[NFTA_RULE_EXPRESSIONS] == NULL ||
        strcmp(mnl_attr_get_str(tb[NFTA_RULE_TABLE]), w->table) != 0 ||
        strcmp(mnl_attr_get_str(tb[NFTA_RULE_CHAIN]), w->chain) != 0) {
        return MNL_CB_OK;
    }
    const struct nlattr *elem;
    const char *found = NULL;
    mnl_attr_for_each_nested(elem, tb[NFTA_RULE_EXPRESSIONS]) {
        struct xt_connmark_mtinfo1 *info = cnft_connmark_info(elem, w);
        if (info != NULL) {
            found = (const char *)&info->mark;
            break;
        }
    }
    if (found == NULL) {
        return MNL_CB_OK;
    }
    size_t need = nlh->nlmsg_len + 256;
    if (w->out_len + need > CNFT_BATCH_SIZE - 64) {
        w->overflow = 1;
        return MNL_CB_OK;
    }
    struct nlmsghdr *out = mnl_nlmsg_put_header(w->out + w->out_len);
    out->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE;
    out->nlmsg_flags = NLM_F_REQUEST | NLM_F_REPLACE | NLM_F_ACK;
    out->nlmsg_seq = ++w->seq;
    struct nfgenmsg *nfg = (struct nfgenmsg *)mnl_nlmsg_put_extra_header(out, sizeof *nfg);
    *nfg = *(const struct nfgenmsg *)mnl_nlmsg_get_payload(nlh);
    nfg->res_id = 0;
    const int copied[] = {NFTA_RULE_TABLE, NFTA_RULE_CHAIN, NFTA_RULE_HANDLE, NFTA_RULE_COMPAT, NFTA_RULE_USERDATA};
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        const struct nlattr *a = tb[copied[i]];
        if (a != NULL) {
            mnl_attr_put(out, a->nla_type, mnl_attr_get_payload_len(a), mnl_attr_get_payload(a));
        }
    }
    const struct nlattr *exprs = tb[NFTA_RULE_EXPRESSIONS];
    const char *source = (const char *)mnl_attr_get_payload(exprs);
    struct nlattr *copy = (struct nlattr *)mnl_nlmsg_get_payload_tail(out);
    mnl_attr_put(out, exprs->nla_type, mnl_attr_get_payload_len(exprs), source);
    uint32_t mark = w->new_mark;
    memcpy((char *)mnl_attr_get_payload(copy) + (found - source), &mark, sizeof mark);
    w->out_len += out->nlmsg_len;
    w->found += 1;
    return MNL_CB_OK;
}

/** Dumps the rules of `w->chain` and collects the replacements. */
static inline int cnft_collect(struct mnl_socket *nl, cnft_rewrite *w) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = ++w->seq;
    struct nfgenmsg *nfg = (struct nfgenmsg *)mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
    nfg->nfgen_family = NFPROTO_IPV4;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
    mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, w->table);
    mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, w->chain);
    uint32_t seq = nlh->nlmsg_seq;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        return -errno;
    }
    unsigned int portid = mnl_socket_get_portid(nl);
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
        if (n < 0) {
            return -errno;
        }
        int result = mnl_cb_run(buf, (size_t)n, seq, portid, cnft_rule_cb, w);
        if (result < 0) {
            return errno ? -errno : -EPROTO;
        }
        if (result == MNL_CB_STOP) {
            return 0;
        }
    }
}

/** Puts a batch begin or end message for nf_tables at `at`; returns its length. */
static inline size_t cnft_batch_mark(char *at, uint16_t type, uint32_t seq) {
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(at);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    nlh->nlmsg_seq = seq;
    struct nfgenmsg *nfg = (struct nfgenmsg *)mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
    nfg->nfgen_family = AF_UNSPEC;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = htons(NFNL_SUBSYS_NFTABLES);
    return nlh->nlmsg_len;
}

/**
 * Replaces, in one transaction, the connmark match `old_mark/mask` (not inverted; with `any_old` any
 * mark under `mask`) of every rule of the IPv4 table `table` in the chains `chain1` and `chain2` with
 * `new_mark/mask`.
 * Returns the number of rules replaced (each chain must hold at least one, else -ENOENT and nothing
 * changes), or a negative errno (the kernel's answer to the batch: nothing changed).
 */
static inline int cnft_rewrite_connmark(const char *table, const char *chain1, const char *chain2, uint32_t mask,
                                        uint32_t old_mark, int any_old, uint32_t new_mark) {
    struct mnl_socket *nl = cnfq_open();
    if (nl == NULL) {
        return -errno;
    }
    struct timeval timeout = {.tv_sec = 2, .tv_usec = 0};
    setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    char *batch = malloc(CNFT_BATCH_SIZE);
    if (batch == NULL) {
        mnl_socket_close(nl);
        return -ENOMEM;
    }
    cnft_rewrite w = {.table = table, .mask = mask, .old_mark = old_mark, .new_mark = new_mark, .any_old = any_old,
                     .out = batch};
    w.out_len = cnft_batch_mark(batch, NFNL_MSG_BATCH_BEGIN, 1);
    int result = 0;
    const char *chains[] = {chain1, chain2};
    for (int i = 0; i < 2 && result == 0; i++) {
        int before = w.found;
        w.chain = chains[i];
        result = cnft_collect(nl, &w);
        if (result == 0 && (w.found == before || w.overflow)) {
            result = w.overflow ? -E2BIG : -ENOENT;
        }
    }
    int expected = w.found;
    if (result == 0) {
        w.out_len += cnft_batch_mark(batch + w.out_len, NFNL_MSG_BATCH_END, ++w.seq);
        if (mnl_socket_sendto(nl, batch, w.out_len) < 0) {
            result = -errno;
        }
    }
    /* One acknowledgement (or error) per replaced rule; any error means the batch was taken back. */
    char buf[MNL_SOCKET_BUFFER_SIZE];
    int acks = 0;
    while (result == 0 && acks < expected) {
        ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
        if (n < 0) {
            result = -errno;
            break;
        }
        int left = (int)n;
        for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
            if (nlh->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *err = (const struct nlmsgerr *)mnl_nlmsg_get_payload(nlh);
                acks += 1;
                if (err->error < 0 && result == 0) {
                    result = err->error;
                }
            }
        }
    }
    free(batch);
    mnl_socket_close(nl);
    return result < 0 ? result : expected;
}

#endif
