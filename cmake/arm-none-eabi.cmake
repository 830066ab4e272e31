# CMake toolchain file: Cortex-M4 (Thumb, soft float) with Debian's gcc-arm-none-eabi and
# picolibc, the same target and flags as firmware/firmware.mk. Use:
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake ...
# IOTSEC_CROSS overrides the tool prefix (default arm-none-eabi-); IOTSEC_FW_CPU the CPU
# flags (default -mcpu=cortex-m4 -mthumb -mfloat-abi=soft).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
if(NOT DEFINED IOTSEC_CROSS)
    set(IOTSEC_CROSS arm-none-eabi-)
endif()
if(NOT DEFINED IOTSEC_FW_CPU)
    set(IOTSEC_FW_CPU "-mcpu=cortex-m4 -mthumb -mfloat-abi=soft")
endif()
set(CMAKE_C_COMPILER ${IOTSEC_CROSS}gcc)
set(CMAKE_AR ${IOTSEC_CROSS}ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${IOTSEC_CROSS}ranlib CACHE FILEPATH "")
# no host program can run: test the compiler with a static library, not an executable
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_C_FLAGS_INIT
    "${IOTSEC_FW_CPU} -ffunction-sections -fdata-sections --specs=picolibc.specs")
set(CMAKE_C_FLAGS_MINSIZEREL_INIT "-Os")
# (--specs=picolibc.specs reaches the link through CMAKE_C_FLAGS; twice is an error)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,--gc-sections")
# nothing from the host's include or library directories
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
