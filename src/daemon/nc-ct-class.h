/* nc-ct-class.h - conntrack as a class of the state-driver interface: its item identity and
 * canonical bytes (those of the peer protocol), and its driver over nc-ct / nc-ct-events
 *
 * An adapter, so that conntrack can move onto src/drivers/nc-state-driver.h without changing
 * what goes on the wire: an NcItemSet of this class has the same digest as nc-peer-proto's
 * NcPeerDigest of the same entries, and its keys are NcPeerCtKey's canonical bytes.
 */
#pragma once

#include <glib.h>

#include "conf/nc-ct-items.h"
#include "drivers/nc-state-driver.h"

G_BEGIN_DECLS

/* the class (nc_ct_class) is conf/nc-ct-items.h's */
extern const NcStateDriver nc_ct_state_driver;

G_END_DECLS
