/* The hub's key registry (--keys FILE): which CURVE public keys may connect, as whom, with
 * which role, and for which areas or alerts. No ZeroMQ here: hub_auth.c answers the handshakes.
 *
 * The file is CSV, one party a line: public_key,id,role[,4th[,5th]], the last two by role:
 *   public_key   the party's Z85 public key (its NAME.pub from cdof-keygen);
 *   id           its identity: an agent's --id (envelopes must carry it), or a name for a
 *                watcher or query client; 1 to 64 printable characters, no spaces or commas.
 *                Every acknowledgement and silence records it beside the person named;
 *   role         partnership (ingest, its own areas), national (ingest, any area, England and
 *                the regions), oversight (alerts and queries; acknowledges and silences the
 *                alerts of its team and region) or jcdu (alerts and queries; acknowledges and
 *                silences any alert).
 * partnership:   4th partnership: milestones must name it (default: the id);
 *                5th areas: area codes separated by ';' or spaces. Default: the partnership's
 *                members in the hub's --partnerships file, else the partnership itself when it is
 *                an area code (one area, one partnership). Given, they must agree with that
 *                file: all of a configured partnership's members and no other, and no area
 *                another configured partnership holds.
 * oversight:     4th team: a team of the metric catalogue (ohid, hmpps, police, jcdu). Empty:
 *                the key only reads (alerts and queries), it can neither acknowledge nor
 *                silence;
 *                5th region: a region code (E12...): only that region's alerts. Empty: the
 *                team's alerts in every region and England's.
 * national, jcdu: nothing after the role.
 * Blank lines, lines starting with '#' and a header line starting "public_key" are skipped. */
#ifndef CDOF_HUB_KEYS_H
#define CDOF_HUB_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "cdof_partnerships.h"
#include "cdof_ref.h"
#include "cdof_validate.h"

#define HUB_KEYS_MAX_PARTIES 10000 /* lines with a key; England has about 104 partnerships */
#define HUB_KEYS_MAX_AREAS   200   /* areas of one partnership (England has 153 UTLAs) */

typedef enum {
    HUB_ROLE_PARTNERSHIP,
    HUB_ROLE_NATIONAL,
    HUB_ROLE_OVERSIGHT,
    HUB_ROLE_JCDU
} hub_role_t;

/* One registered party. Everything is owned by the registry it came from. */
typedef struct {
    const char *public_key, *id, *partnership;
    hub_role_t role;
    cdof_scope_t scope; /* the areas it may write (national: any); empty for read-only roles */
    /* Alerts it may acknowledge and silence: only with may_act, and then those of team and
     * region, where "" is any. */
    bool may_act;
    const char *team, *region;
} hub_party_t;

typedef struct hub_keys hub_keys_t;

/* Parses text (len bytes, need not be NUL-terminated) as a registry; name is used in reasons.
 * Area codes are checked against ref; partnership areas come from (and are checked against)
 * the hub's configured partnerships parts[0..nparts) (borrowed; NULL, 0: none configured). On
 * success *out is a new registry (caller destroys). Returns 0, -ENOMEM or CDOF_EINVALID with
 * "NAME:LINE: field 'F': reason" in err. */
int hub_keys_parse(const char *name, const char *text, size_t len, const cdof_ref_t *ref,
                   const cdof_partnership_t *parts, size_t nparts, hub_keys_t **out, char *err,
                   size_t errlen);

/* Reads path (at most 4 MiB) and parses it as above. Also returns a negative errno when the
 * file cannot be read. */
int hub_keys_load(const char *path, const cdof_ref_t *ref, const cdof_partnership_t *parts,
                  size_t nparts, hub_keys_t **out, char *err, size_t errlen);

void hub_keys_destroy(hub_keys_t **keys);

/* The party with this Z85 public key, or NULL (owned by keys; valid until it is destroyed). */
const hub_party_t *hub_keys_find(const hub_keys_t *keys, const char *public_key);

size_t hub_keys_count(const hub_keys_t *keys);

/* The i-th party (i < hub_keys_count), in key order; owned by keys. */
const hub_party_t *hub_keys_at(const hub_keys_t *keys, size_t i);

/* The role's name as written in the registry. */
const char *hub_role_name(hub_role_t role);

/* True when the role may use the hub socket whose ZAP domain is domain ("ingest", "alerts" or
 * "query"): agents send, oversight and JCDU read. */
bool hub_role_may_use(hub_role_t role, const char *domain);

/* True when party may acknowledge or silence an alert of team and region (its region code;
 * England's alerts carry England's code). A NULL party (--insecure) may. */
bool hub_party_covers(const hub_party_t *party, const char *team, const char *region);

#endif
