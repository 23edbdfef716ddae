import "reflect-metadata";
import { CLOCK_BACKEND, ClockSelector, createClockContainer } from "@clocksource/core";
import { InjectableMicrosecondBackend } from "./injectable-backend.js";

const container = createClockContainer({ sysroot: process.argv[2] ?? "/" });
container.register(CLOCK_BACKEND, { useClass: InjectableMicrosecondBackend });

const selection = container.resolve(ClockSelector).select();
console.log(`${selection.selected.id} selected: ${selection.backends[0]?.reasons.join("; ")}`);
