/* dareplane.h - the umbrella header: includes every public header of
 * libdareplane. Each component's header can also be included on its own. */
#ifndef DAREPLANE_H
#define DAREPLANE_H

#include "dareplane/common.h"
#include "dareplane/args.h"
#include "dareplane/error.h"
#include "dareplane/filter.h"
#include "dareplane/log.h"
#include "dareplane/log_server.h"
#include "dareplane/loop.h"
#include "dareplane/client.h"
#include "dareplane/lsl.h"
#include "dareplane/launcher.h"
#include "dareplane/lsl_outlet.h"
#include "dareplane/module.h"
#include "dareplane/ringbuffer.h"
#include "dareplane/server.h"
#include "dareplane/stream_watcher.h"
#include "dareplane/time.h"

#endif /* DAREPLANE_H */
