/* Headers bindgen reads to generate dissector/sys.rs's bindings (into OUT_DIR, never committed). */
#include <epan/packet.h>
#include <epan/proto.h>
#include <epan/expert.h>
#include <epan/conversation.h>
#include <epan/prefs.h>
#include <epan/proto_data.h>
#include <epan/range.h>
#include <epan/column-utils.h>
#include <epan/dissectors/packet-tcp.h>
/* true_false_string: from 4.6 on proto.h no longer includes it. */
#include <epan/tfs.h>
#if __has_include(<wsutil/plugins.h>)
#include <wsutil/plugins.h>
#endif
/* The C shell's wrappers and trampolines (dissector/epan/shim.c). */
#include "dissector/epan/shim.h"
/* The UATs and the key-file preference (dissector/epan/secrets.c). */
#include "dissector/epan/secrets.h"
/* The tap and the stats tree (dissector/epan/stats.c). */
#include "dissector/epan/stats.h"
/* TLS hand-off and the postdissector's field reads (dissector/epan/tls.c). */
#include "dissector/epan/tls.h"
