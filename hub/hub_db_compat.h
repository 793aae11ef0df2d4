/* The names hub_db.h's points module had while it lived in store/ as cdof_points, for the files
 * of cdof-hub that still use them. Transitional: delete this header once nothing includes it. */
#ifndef HUB_DB_COMPAT_H
#define HUB_DB_COMPAT_H

#include "hub_db.h"

#define cdof_points_t           hub_db_t
#define cdof_point_t            hub_point_t
#define cdof_agent_record_t     hub_agent_record_t
#define cdof_points_new         hub_db_open
#define cdof_points_destroy     hub_db_close
#define cdof_points_put         hub_db_point_put
#define cdof_points_put_memo    hub_db_point_put_memo
#define cdof_points_get         hub_db_point_get
#define cdof_points_get_as_at   hub_db_point_get_as_at
#define cdof_points_scan        hub_db_points_scan
#define cdof_points_scan_all    hub_db_points_scan_all
#define cdof_points_metric_code hub_db_metric_code
#define cdof_points_agent_get   hub_db_agent_get
#define cdof_points_agent_put   hub_db_agent_put
#define cdof_points_agent_scan  hub_db_agent_scan
#define CDOF_POINTS_KEY_LEN     HUB_DB_POINT_KEY_LEN
#define CDOF_POINTS_AGENT_MAX   HUB_DB_AGENT_MAX
#define CDOF_POINTS_NOTE_MAX    HUB_DB_NOTE_MAX
#define CDOF_POINTS_METRIC_MAX  HUB_DB_METRIC_MAX
#define CDOF_POINTS_AREA_LEN    HUB_DB_AREA_LEN

#endif
