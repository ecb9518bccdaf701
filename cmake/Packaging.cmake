# SPDX-License-Identifier: Apache-2.0
# Install layout beyond the two binaries (man pages, systemd unit, bash completion, dev PKI) and the CPack .deb.
#
# Included at the end of the top-level CMakeLists.txt. The binaries install themselves
# (cli/: bin/tracectl, agent/: sbin/tracectl-agent). Layout under the prefix:
#   share/man/man1/tracectl.1, share/man/man8/tracectl-agent.8
#   lib/systemd/system/tracectl-agent.service   (ExecStart points at the installed sbin)
#   share/bash-completion/completions/{tracectl,tracectl-agent}
#   share/tracectl/dev-pki.sh, share/doc/tracectl/examples/agent.env.example
include(GNUInstallDirs)

set(TRACECTL_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
  "Where the systemd unit goes, relative to the install prefix")
set(TRACECTL_BASH_COMPLETIONDIR "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" CACHE STRING
  "Where bash completions go, relative to the install prefix")

install(FILES ${PROJECT_BINARY_DIR}/docs/man/tracectl.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/docs/man/tracectl-agent.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/deploy/dev-pki.sh DESTINATION ${CMAKE_INSTALL_DATADIR}/tracectl)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/etc/agent.env.example
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# Bash completion and tracectl.1: the build writes them with the catalog's probes
# (agent/CMakeLists.txt, catalog_docs), so a new probe needs no edit here.
# bash-completion loads a completion by the command's name: one file per command.
install(FILES ${PROJECT_BINARY_DIR}/deploy/bash-completion/tracectl DESTINATION ${TRACECTL_BASH_COMPLETIONDIR})
install(FILES ${PROJECT_BINARY_DIR}/deploy/bash-completion/tracectl DESTINATION ${TRACECTL_BASH_COMPLETIONDIR}
  RENAME tracectl-agent)

# The systemd unit names /usr/sbin/tracectl-agent; at install time that becomes the
# real prefix (CPack installs with CMAKE_INSTALL_PREFIX=/usr, so the .deb keeps it).
install(CODE "set(_tracectl_unit_src \"${PROJECT_SOURCE_DIR}/deploy/systemd/tracectl-agent.service\")
set(_tracectl_unit_out \"${PROJECT_BINARY_DIR}/deploy/systemd/tracectl-agent.service\")
set(_tracectl_sbindir \"${CMAKE_INSTALL_SBINDIR}\")")
install(CODE [[
file(READ "${_tracectl_unit_src}" _unit)
if(IS_ABSOLUTE "${_tracectl_sbindir}")
  set(_exe "${_tracectl_sbindir}/tracectl-agent")
else()
  set(_exe "${CMAKE_INSTALL_PREFIX}/${_tracectl_sbindir}/tracectl-agent")
endif()
string(REPLACE "ExecStart=/usr/sbin/tracectl-agent " "ExecStart=${_exe} " _unit "${_unit}")
file(WRITE "${_tracectl_unit_out}" "${_unit}")
]])
install(FILES ${PROJECT_BINARY_DIR}/deploy/systemd/tracectl-agent.service DESTINATION ${TRACECTL_SYSTEMD_UNITDIR})

# --- CPack: one .deb, package "tracectl", with both binaries -------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tracectl)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "tracectl maintainers <tracectl-maintainers@users.noreply.github.com>" CACHE STRING
  "Maintainer field of the .deb")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "remote, fleet-wide eBPF tracing: agent and controller")
set(CPACK_PACKAGE_DESCRIPTION "tracectl-agent runs privileged on each Linux host, attaches probes from a \
fixed, reviewed catalog of CO-RE BPF programs, aggregates in the kernel and streams the results over \
mutual TLS. tracectl is the unprivileged controller: it talks to one host or a fleet, merges what comes \
back and renders it as text, JSON lines or flame-graph input.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/tracectl/tracectl")
set(CPACK_STRIP_FILES ON)
# Debian 12's runtime packages for what the binaries link (ldd: libbpf.so.1, libelf.so.1,
# libz.so.1, libprotobuf-c.so.1, libevent_core-2.1.so.7, libevent_openssl-2.1.so.7,
# libssl.so.3/libcrypto.so.3). With dpkg-shlibdeps (package dpkg-dev) the versions come
# from the libraries' symbols files instead of this list.
find_program(TRACECTL_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(TRACECTL_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6, libbpf1, libelf1, zlib1g, libprotobuf-c1, libevent-core-2.1-7, \
libevent-openssl-2.1-7, libssl3")
endif()
# openssl for dev-pki.sh; the agent mounts tracefs itself, nothing else is needed at run time.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "openssl")
include(CPack)
