import "reflect-metadata";
import { CLOCK_BACKEND, ClockSelector, createClockContainer, SYSTEM_VIEW } from "@clocksource/core";
import { MicrosecondBackend } from "./microsecond-backend.js";

const container = createClockContainer({ sysroot: process.argv[2] ?? "/" });
// A factory: the container hands over what the backend needs. No decorators, no compiler flags.
container.register(CLOCK_BACKEND, { useFactory: (c) => new MicrosecondBackend(c.resolve(SYSTEM_VIEW)) });

const selection = container.resolve(ClockSelector).select();
for (const b of selection.backends) {
  console.log(`${b.id === selection.selected.id ? "*" : " "} ${b.id} rating ${b.rating}: ${b.reasons.join("; ")}`);
}
console.log(selection.explanation.join("\n"));

const ticks = selection.source.now();
console.log(`now: ${ticks} ticks of ${selection.source.domain.name} = ${selection.source.toNanoseconds(ticks)} ns`);
