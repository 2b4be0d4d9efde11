-- nvim-dap configuration for mlpvm: debug .asq/.pasq programs on the network (`mlpvm dap`).
-- Put this file in your config (for example ~/.config/nvim/after/plugin/mlpvm-dap.lua) with nvim-dap
-- installed; `mlpvm` must be on PATH. Then open a program, set breakpoints (:DapToggleBreakpoint) and
-- :DapContinue; :DapStepBack and reverse-continue work too (the adapter supports stepping back).
local dap = require("dap")

dap.adapters.mlpvm = {
  type = "executable",
  command = "mlpvm",
  args = { "dap" },
}

local launch = {
  type = "mlpvm",
  request = "launch",
  name = "mlpvm: this program on the network",
  program = "${file}",
  input = "",            -- the program's input
  stopOnEntry = false,
  -- engine = "sparse", weights = "bad.npz",   -- a weight file (sparse, dense or onnx)
  -- noCheck = true,                            -- without the reference beside the network
}

dap.configurations.asq = { launch }
dap.configurations.pasq = { launch }
vim.filetype.add({ extension = { asq = "asq", pasq = "pasq" } })
