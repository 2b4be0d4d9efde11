// The whole extension: VS Code starts `mlpvm dap` (the setting mlpvm.adapterCommand) for debug sessions of
// type "mlpvm" and speaks the Debug Adapter Protocol with it on stdio. Everything else is the adapter's.
const vscode = require("vscode");

class Factory {
  createDebugAdapterDescriptor() {
    const [command, ...args] = vscode.workspace.getConfiguration("mlpvm").get("adapterCommand");
    return new vscode.DebugAdapterExecutable(command, args);
  }
}

function activate(context) {
  context.subscriptions.push(vscode.debug.registerDebugAdapterDescriptorFactory("mlpvm", new Factory()));
}

module.exports = { activate, deactivate() {} };
