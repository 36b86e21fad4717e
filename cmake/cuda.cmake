# The optional CUDA back end (src/backend/cuda/). CW_CUDA=AUTO builds it when
# nvcc is found, ON requires it, OFF leaves it out. It sets
#   CW_HAVE_CUDA      ON when the back end is built
#   CW_CUDA_SOURCES   its .cu files (empty otherwise)
#   CW_CUDA_LIBS      what the library links: the CUDA runtime, statically
# and cw_cuda_configure(target) for the object library.
#
# Neither libcuda (the driver) nor cuBLAS is linked: the static runtime loads
# the driver itself at the first CUDA call, and the back end dlopens cuBLAS
# (this toolkit ships it as a shared library only), so the library and the
# program load and run on machines without a driver or without cuBLAS; asking
# for the CUDA device there is an error naming the reason.
set(CW_HAVE_CUDA OFF)
set(CW_CUDA_SOURCES "")
set(CW_CUDA_LIBS "")
option(CW_CUDA_WERROR "Warnings are errors in the CUDA sources (host and device)" ON)

# Sanitizer builds stay CPU-only unless asked (ASan and the CUDA driver's
# memory mappings do not mix); the kernels' host tests run there all the same.
if(CW_SANITIZE AND CW_CUDA STREQUAL "AUTO")
  set(CW_CUDA OFF)
endif()
if(NOT CW_CUDA STREQUAL "OFF" AND NOT CW_CUDA STREQUAL "FALSE" AND NOT CW_CUDA STREQUAL "0")
  # nvcc is often outside PATH (/usr/local/cuda/bin); CheckLanguage reads CUDACXX
  if(NOT DEFINED ENV{CUDACXX} AND NOT CMAKE_CUDA_COMPILER)
    find_program(CW_NVCC nvcc HINTS /usr/local/cuda/bin)
    if(CW_NVCC)
      set(ENV{CUDACXX} ${CW_NVCC})
    endif()
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90) # A100, H100 / H200
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(CW_HAVE_CUDA ON)
    file(GLOB CW_CUDA_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/backend/cuda/*.cu)
    set(CW_CUDA_LIBS CUDA::cudart_static ${CMAKE_DL_LIBS})
    message(STATUS "cwhisper: CUDA back end ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, sm ${CMAKE_CUDA_ARCHITECTURES})")
  elseif(CW_CUDA STREQUAL "ON" OR CW_CUDA STREQUAL "TRUE" OR CW_CUDA STREQUAL "1")
    message(FATAL_ERROR "CW_CUDA=ON but no CUDA compiler (nvcc) was found; set CUDACXX or use CW_CUDA=AUTO")
  else()
    message(STATUS "cwhisper: CUDA back end OFF (no nvcc found)")
  endif()
else()
  message(STATUS "cwhisper: CUDA back end OFF (CW_CUDA=${CW_CUDA})")
endif()

function(cw_cuda_configure target)
  if(NOT CW_HAVE_CUDA)
    return()
  endif()
  target_compile_definitions(${target} PRIVATE CW_HAVE_CUDA=1)
  target_link_libraries(${target} PUBLIC ${CW_CUDA_LIBS})
  # cudart and cuBLAS headers only (no cuBLAS library: it is dlopened)
  target_include_directories(${target} PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
  set(host -Wall -Wextra -fno-exceptions -fno-rtti)
  set(dev "")
  if(CW_CUDA_WERROR)
    list(APPEND host -Werror)
    set(dev --Werror=all-warnings)
  endif()
  list(JOIN host "," host_flags)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=${host_flags}>
    $<$<COMPILE_LANGUAGE:CUDA>:${dev}>)
  set_target_properties(${target} PROPERTIES CUDA_RUNTIME_LIBRARY Static CUDA_STANDARD 20)
endfunction()
