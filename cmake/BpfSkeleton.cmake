# SPDX-License-Identifier: Apache-2.0
# bpf_skeleton(NAME SOURCE): SOURCE (probes/DIR/NAME.bpf.c, a full path) -> NAME.bpf.o ->
# NAME.skel.h, exposed as the interface library NAME_skel that a user-space target links to
# include the skeleton and the probe's header. The program sees its own folder and the
# shared helpers of bpf/.
find_program(BPFTOOL bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)
find_program(BPF_CLANG clang REQUIRED)

set(VMLINUX_DIR ${CMAKE_BINARY_DIR}/vmlinux)
set(VMLINUX_H ${VMLINUX_DIR}/vmlinux.h)
set(VMLINUX_BTF /sys/kernel/btf/vmlinux CACHE FILEPATH "Kernel BTF used to generate vmlinux.h")
add_custom_command(
  OUTPUT ${VMLINUX_H}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${VMLINUX_DIR}
  COMMAND ${BPFTOOL} btf dump file ${VMLINUX_BTF} format c > ${VMLINUX_H}.tmp
  COMMAND ${CMAKE_COMMAND} -E rename ${VMLINUX_H}.tmp ${VMLINUX_H}
  DEPENDS ${VMLINUX_BTF}
  COMMENT "Generating vmlinux.h from ${VMLINUX_BTF}")
add_custom_target(vmlinux_h DEPENDS ${VMLINUX_H})

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64")
  set(BPF_TARGET_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64")
  set(BPF_TARGET_ARCH arm64)
else()
  set(BPF_TARGET_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

function(bpf_skeleton name source)
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/${name}.skel.h)
  get_filename_component(dir ${source} DIRECTORY)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${BPF_TARGET_ARCH}
            -Wall -Werror -I${VMLINUX_DIR} -I${dir} -I${CMAKE_CURRENT_SOURCE_DIR}
            -I${CMAKE_SOURCE_DIR}/common
            -c ${source} -o ${obj}
    DEPENDS ${source} ${VMLINUX_H} ${ARGN}
    IMPLICIT_DEPENDS C ${source}
    COMMENT "BPF ${name}.bpf.c")
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "Skeleton ${name}.skel.h")
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${CMAKE_CURRENT_BINARY_DIR} ${dir} ${CMAKE_CURRENT_SOURCE_DIR})
endfunction()
