/* nc-ct-class.h - conntrack's driver on the state-driver interface, over nc-ct / nc-ct-events
 *
 * An adapter, so that conntrack can move onto src/drivers/nc-state-driver.h without changing
 * what goes on the wire: its class (conf/nc-ct-items.h) encodes as the peer protocol does, so
 * an NcItemSet of this class has the digest the peer protocol's SEAL carries (version 3 and on),
 * and its keys are NcCtKey's canonical bytes.
 */
#pragma once

#include <glib.h>

#include "conf/nc-ct-items.h"
#include "drivers/nc-state-driver.h"

G_BEGIN_DECLS

/* the class (nc_ct_class) is conf/nc-ct-items.h's */
extern const NcStateDriver nc_ct_state_driver;

G_END_DECLS
