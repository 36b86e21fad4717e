/* Launch shapes and dtype codes shared by the kernels (kernels.h), the host
 * plans (cuda_plan.c) and the back end. */
#ifndef CW_CUDA_KERNELS_GEOM_H
#define CW_CUDA_KERNELS_GEOM_H

#define CW_WARP 32
/* threads per block of the row kernels: one warp per row, 4 rows a block */
#define CW_ROWS_PER_BLOCK 4
#define CW_ROW_THREADS (CW_WARP * CW_ROWS_PER_BLOCK)
/* threads per block of the elementwise kernels */
#define CW_EW_THREADS 256
/* transpose tile: 32 x 32 floats, blocks of 32 x 8 threads */
#define CW_TILE 32
#define CW_TILE_ROWS 8

/* dtype codes the kernels take (util/dtype.h's cw_dtype values, passed as int) */
#define CW_K_F32 0
#define CW_K_F16 4
#define CW_K_BF16 5
#define CW_K_I8 1

#endif
