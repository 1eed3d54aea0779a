// The `Set` virtual object, in two variants:
// - `durableSet`: the elements are a JSON array in Restate state under "value", as in
//   restatedev/jepsen; what Restate acknowledged survives any process or node failure.
// - `brokenSet`: the elements are kept in this process's memory (a map from key to array),
//   deliberately: a kill of the process loses acknowledged adds, and the checker must see it.
// Handlers are exclusive (the default for a virtual object) in both.
import * as restate from "@restatedev/restate-sdk";

export const durableSet = restate.object({
  name: "Set",
  handlers: {
    get: async (ctx: restate.ObjectContext): Promise<number[]> => {
      return (await ctx.get<number[]>("value")) ?? [];
    },
    set: async (ctx: restate.ObjectContext, elements: number[]): Promise<void> => {
      ctx.set("value", elements);
    },
    add: async (ctx: restate.ObjectContext, element: number): Promise<void> => {
      const elements = (await ctx.get<number[]>("value")) ?? [];
      if (!elements.includes(element)) {
        elements.push(element);
        ctx.set("value", elements);
      }
    },
    clear: async (ctx: restate.ObjectContext): Promise<void> => {
      ctx.clear("value");
    },
  },
});

// Key → elements, in this process only.
const memory = new Map<string, number[]>();

function elementsOf(key: string): number[] {
  let elements = memory.get(key);
  if (elements === undefined) {
    elements = [];
    memory.set(key, elements);
  }
  return elements;
}

export const brokenSet = restate.object({
  name: "Set",
  handlers: {
    get: async (ctx: restate.ObjectContext): Promise<number[]> => {
      return [...elementsOf(ctx.key)];
    },
    set: async (ctx: restate.ObjectContext, elements: number[]): Promise<void> => {
      memory.set(ctx.key, [...elements]);
    },
    add: async (ctx: restate.ObjectContext, element: number): Promise<void> => {
      const elements = elementsOf(ctx.key);
      if (!elements.includes(element)) {
        elements.push(element);
      }
    },
    clear: async (ctx: restate.ObjectContext): Promise<void> => {
      memory.delete(ctx.key);
    },
  },
});
