# Finds tagmap's dependencies and exposes each as an imported target. Shared by the
# build tree and the installed package config, so a consumer resolves exactly the
# same targets. Debian ships pkg-config files for FFTW, libsndfile and libsoxr.
find_package(Eigen3 3.3 REQUIRED CONFIG)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

function(_tagmap_pkg target module)
  if(NOT TARGET tagmap::${target})
    pkg_check_modules(_tagmap_${target} REQUIRED IMPORTED_TARGET GLOBAL ${module})
    add_library(tagmap::${target} INTERFACE IMPORTED GLOBAL)
    set_target_properties(tagmap::${target} PROPERTIES
      INTERFACE_LINK_LIBRARIES PkgConfig::_tagmap_${target})
  endif()
endfunction()

_tagmap_pkg(fftw3f fftw3f)
_tagmap_pkg(fftw3 fftw3)
_tagmap_pkg(sndfile sndfile)
_tagmap_pkg(soxr soxr)
if(TAGMAP_WITH_OPENBLAS)
  _tagmap_pkg(openblas openblas)
endif()
