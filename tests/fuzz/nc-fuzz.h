/* nc-fuzz.h - what every netcarry libFuzzer target shares: quiet logging, a critical is a crash
 * Each target feeds one decoder the bytes a peer, libvirt or a file could hand it (tests/fuzz/).
 */
#pragma once

#include <stdlib.h>
#include <glib.h>

/*
 * A g_critical() or g_error() is a broken precondition inside netcarry (g_return_if_fail and
 * friends), i.e. a bug that bad input reached: abort, so that libFuzzer keeps the input. Every
 * other message is the decoders' ordinary "this input is bad" logging, and would only slow the
 * fuzzer down.
 */
static GLogWriterOutput nc_fuzz_log_writer(GLogLevelFlags level, const GLogField *fields,
                                           gsize n_fields, gpointer user_data)
{
    if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)) {
        g_log_writer_standard_streams(level, fields, n_fields, user_data);
        abort();
    }
    return G_LOG_WRITER_HANDLED;
}

/* nc_fuzz_init() - call from LLVMFuzzerInitialize() */
static inline void nc_fuzz_init(void)
{
    g_log_set_writer_func(nc_fuzz_log_writer, NULL, NULL);
}

/* nc_fuzz_check() - an invariant of the code under test; a violation is a crash */
#define nc_fuzz_check(cond)                                                                    \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            g_printerr("%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);
