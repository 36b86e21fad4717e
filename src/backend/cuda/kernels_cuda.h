/* kernels.h's environment under nvcc: the real thing. */
#ifndef CW_CUDA_KERNELS_CUDA_H
#define CW_CUDA_KERNELS_CUDA_H

#include <cuda_fp16.h>
#include <math.h>
#include <stddef.h>

#define CW_KERNEL static __global__ void
#define CW_DEV static __device__ __forceinline__
#define cw_sync() __syncthreads()
#define cw_shfl_xor(v, m) __shfl_xor_sync(0xffffffffu, (v), (m))
#define CW_SHARED(type, name, n) __shared__ type name[n]
#define cw_f32_to_f16_bits(x) __half_as_ushort(__float2half_rn(x))

#endif
