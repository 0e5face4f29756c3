// The translation unit that makes the suites' precompiled header (cmake/precompiled_headers.cmake).
