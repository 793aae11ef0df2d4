/* The notification configuration of cdof-watch (--receivers FILE): receivers, the routing tree and
 * the delivery policy, read from one INI file. Nothing here sends or routes: this is the parsed
 * description the other watch_* modules read.
 *
 *   [delivery]              retry_initial, retry_max, expire, query_command
 *   [receiver NAME]         type = email | webhook | teams | slack | exec, and its settings
 *   [route]                 the root route: every alert enters here; receiver is required
 *                           (a file without receivers may leave routes out: [delivery] alone
 *                           sets the retry policy of --exec)
 *   [route NAME]            a child of the root; [route NAME.CHILD] a child of NAME, and so on.
 *                           A parent comes before its children; siblings are tried in file order.
 *
 * A route matches an alert when each of team, region, rule and severity it names (a
 * comma-separated list) contains the alert's value. Unset receiver, group_by and the three
 * intervals are inherited from the parent. Durations are "500ms", "30s", "5m", "4h" or "2d".
 *
 * The struct is plain data owned by the caller of watch_conf_load (free with watch_conf_free);
 * read it, don't change it. */
#ifndef WATCH_CONF_H
#define WATCH_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdof_config.h"

typedef enum {
    WATCH_RECV_EMAIL,   /* SMTP through libcurl */
    WATCH_RECV_WEBHOOK, /* HTTP(S) POST of the generic JSON body */
    WATCH_RECV_TEAMS,   /* Microsoft Teams incoming webhook (MessageCard) */
    WATCH_RECV_SLACK,   /* Slack incoming webhook (Block Kit) */
    WATCH_RECV_EXEC     /* sh -c COMMAND with the JSON on its standard input */
} watch_recv_kind_t;

/* The labels an alert is routed and grouped by. */
typedef enum {
    WATCH_LABEL_TEAM,
    WATCH_LABEL_REGION,
    WATCH_LABEL_RULE,
    WATCH_LABEL_SEVERITY,
    WATCH_LABEL_COUNT
} watch_label_t;

typedef struct {
    char *name;
    watch_recv_kind_t kind;
    char *url;         /* smtp://, smtps://, http:// or https:// */
    bool starttls;     /* email over smtp://: insist on STARTTLS (default true) */
    char *user;        /* email: SMTP AUTH user, or NULL */
    char *password;    /* read from password_file (never written in the INI itself) */
    char *from;        /* email: envelope and header sender */
    cdof_strlist_t to; /* email: recipients */
    char *ca_file;     /* a CA bundle for a private certificate authority, or NULL */
    char *command;     /* exec */
    long timeout_ms;   /* one attempt's limit [30s] */
    long expire_ms;    /* overrides [delivery] expire for this receiver; 0: not set */
} watch_receiver_t;

typedef struct {
    char *name;                              /* "" for the root, else the dotted path */
    int parent;                              /* index of the parent route; -1 for the root */
    cdof_strlist_t match[WATCH_LABEL_COUNT]; /* empty: any value */
    size_t receiver;                         /* index into receivers (inherited) */
    bool cont;                               /* continue: try later siblings after a match */
    unsigned group_by;                       /* bit (1u << label) per label (inherited) */
    long group_wait_ms, group_interval_ms, repeat_interval_ms; /* (inherited) */
} watch_route_t;

/* The delivery policy without a [delivery] section (or without --receivers). */
#define WATCH_DEFAULT_RETRY_INITIAL_MS 10000L
#define WATCH_DEFAULT_RETRY_MAX_MS     600000L
#define WATCH_DEFAULT_EXPIRE_MS        86400000L

typedef struct {
    long retry_initial_ms; /* first retry after about this [10s] */
    long retry_max_ms;     /* back-off doubles up to this [10m] */
    long expire_ms;        /* a notice undelivered this long after it was queued expires [24h] */
    char *query_command;   /* shown in messages: how a reader runs cdof-query [cdof-query] */
} watch_delivery_t;

typedef struct {
    watch_receiver_t *receivers;
    size_t nreceivers;
    watch_route_t *routes; /* routes[0] is the root; a parent always precedes its children */
    size_t nroutes;
    watch_delivery_t delivery;
} watch_conf_t;

/* Reads and checks path. Returns 0 with *out (owned by the caller), or a negative code with a
 * reason naming the file, line and key in err. */
int watch_conf_load(const char *path, watch_conf_t **out, char *err, size_t errlen);
/* The same for text already in memory; name stands for the file in messages. */
int watch_conf_parse(const char *text, const char *name, watch_conf_t **out, char *err,
                     size_t errlen);
/* Accepts NULL; NULLs *conf. */
void watch_conf_free(watch_conf_t **conf);

/* The receiver named name, or NULL. */
const watch_receiver_t *watch_conf_receiver(const watch_conf_t *c, const char *name);

/* "30s" and the like in milliseconds. Returns 0 or -EINVAL. */
int watch_conf_duration(const char *s, long *ms);

/* "team", "region", "rule", "severity". */
const char *watch_label_name(watch_label_t l);
const char *watch_recv_kind_name(watch_recv_kind_t k);

#endif
