// The translation unit that makes each precompiled header (cmake/precompiled_headers.cmake).
