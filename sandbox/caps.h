/* Capabilities: everything goes but what --cap-add keeps (as ambient caps,
 * so they survive exec for a non-root uid). */
#ifndef SANDTRAIL_CAPS_H
#define SANDTRAIL_CAPS_H

#include <stdint.h>

/* In the child, after the uid switch: locks securebits (uid 0 gains nothing
 * at exec), empties the bounding set but keep, sets keep as ambient. */
int caps_child(uint64_t keep);

#endif
