{
  "targets": [
    {
      "target_name": "clocksource_native",
      "sources": ["csrc/clocksource_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
