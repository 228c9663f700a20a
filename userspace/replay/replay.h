/* Replay's public face: what `sandtrail replay` uses to read a journal back
 * as a list of sessions, a process-tree timeline, JSON lines or one HTML page, filtered and
 * marked with the seal state of every record. */
#ifndef SANDTRAIL_REPLAY_H
#define SANDTRAIL_REPLAY_H

#include "render_html.h"
#include "render_json.h"
#include "rfilter.h"
#include "sealmark.h"
#include "sesslist.h"
#include "timeline.h"

#endif
