-- peer.lua - the Lua 5.4 and LuaJIT reference of the benchmark suite: the
-- same operations as coro's, with coroutine.resume / yield / wrap. Runs
-- under both interpreters (so: Lua 5.1 syntax, no integer division).
--
--   lua5.4 peer.lua OP N [PAGESIZE]   OP: roundtrip lifecycle wrap value
--                                     prints nanoseconds per operation
--   lua5.4 peer.lua mem N PAGESIZE    prints the resident bytes one more
--                                     suspended coroutine costs, from N/2 to N
--   lua5.4 peer.lua version           prints the interpreter's version
--
-- Timed with os.clock (processor time; the process is alone on its CPU).

local create, resume, yield, wrap = coroutine.create, coroutine.resume, coroutine.yield,
    coroutine.wrap
local clock = os.clock

local ops = {}

function ops.roundtrip(n)
    local co = create(function()
        while true do yield() end
    end)
    resume(co)
    local t0 = clock()
    for _ = 1, n do resume(co) end
    return clock() - t0
end

-- The coroutine is left to the garbage collector, whose cost is included.
function ops.lifecycle(n)
    local body = function(x) return x end
    local bad = false
    local t0 = clock()
    for i = 1, n do
        local co = create(body)
        local _, v = resume(co, i)
        bad = bad or v ~= i
    end
    local t = clock() - t0
    if bad then error("lifecycle: wrong value") end
    return t
end

function ops.wrap(n)
    local gen = wrap(function()
        local i = 0
        while true do
            i = i + 1
            yield(i)
        end
    end)
    local bad = false
    local t0 = clock()
    for i = 1, n do bad = bad or gen() ~= i end
    local t = clock() - t0
    if bad then error("wrap: wrong value") end
    return t
end

function ops.value(n)
    local co = create(function(v)
        while true do v = yield(v + 1) end
    end)
    resume(co, 0)
    local bad = false
    local t0 = clock()
    for i = 1, n do
        local _, v = resume(co, i)
        bad = bad or v ~= i + 1
    end
    local t = clock() - t0
    if bad then error("value: wrong value") end
    return t
end

local function resident_pages()
    local f = assert(io.open("/proc/self/statm"))
    local _, resident = f:read("*n", "*n")
    f:close()
    return resident
end

-- The cost of one more coroutine: the growth from n/2 to n coroutines.
local function memory(n, page)
    local all = {}
    for i = 1, n do all[i] = false end
    local park = function() yield() end
    local half, r0 = math.floor(n / 2), 0
    for i = 1, n do
        if i == half + 1 then
            collectgarbage()
            collectgarbage()
            r0 = resident_pages()
        end
        local co = create(park)
        resume(co)
        all[i] = co
    end
    collectgarbage()
    collectgarbage()
    return (resident_pages() - r0) * page / (n - half)
end

local op, n = arg[1], tonumber(arg[2])
if op == "version" then
    print(jit and jit.version or _VERSION)
elseif op == "mem" then
    print(string.format("%.1f", memory(n, tonumber(arg[3]) or 4096)))
elseif ops[op] and n then
    print(string.format("%.4f", ops[op](n) * 1e9 / n))
else
    io.stderr:write("usage: peer.lua roundtrip|lifecycle|wrap|value|mem N [PAGESIZE] | version\n")
    os.exit(2)
end
