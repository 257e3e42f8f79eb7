// The source of tagmap_test_pch, the target that owns the test suite's precompiled header
// (tests/CMakeLists.txt); it compiles nothing of its own.
