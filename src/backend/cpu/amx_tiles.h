/* The tile shape every AMX kernel here uses: palette 1, tiles 0-7 of 16 rows
 * by 64 bytes (16 x 16 int32 / float32 accumulators, 16 rows of 32 bf16 or
 * 64 int8). Filled here, loaded by the kernel (LDTILECFG), so that the
 * emulation in test_amx_emul.c can stand in for the instruction. */
#ifndef CW_AMX_TILES_H
#define CW_AMX_TILES_H

#include <stdint.h>
#include <string.h>

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} cw_amx_tile_config;

static inline void cw_amx_config_16x64(cw_amx_tile_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg->rows[t] = 16;
        cfg->colsb[t] = 64;
    }
}

#endif
