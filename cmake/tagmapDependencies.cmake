# Finds tagmap's dependencies and exposes each as an imported target. Shared by the
# build tree and the installed package config, so a consumer resolves exactly the
# same targets. Debian ships pkg-config files for FFTW, libsndfile, libsoxr and FFmpeg.
find_package(Eigen3 3.3 REQUIRED CONFIG)
find_package(Threads REQUIRED)
# Spectra (Debian libspectra-dev, header-only): the Lanczos eigensolver of UMAP's spectral
# initialisation (include/tagmap/project/umap/spectral.hpp). Target Spectra::Spectra.
find_package(spectra 1.0 REQUIRED CONFIG)
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
if(TAGMAP_WITH_FFMPEG)
  # FFmpeg 5.1 (Debian 12) or later: the AVChannelLayout API and swr_alloc_set_opts2.
  _tagmap_pkg(avformat "libavformat>=59.27")
  _tagmap_pkg(avcodec "libavcodec>=59.37")
  _tagmap_pkg(avutil "libavutil>=57.28")
  _tagmap_pkg(swresample "libswresample>=4.7")
endif()
