; Inno Setup 6 script: installs the PyInstaller one-folder app and registers .onnx files.
; Built by packaging/windows/build.py, which passes the three defines below (see README.md):
;   iscc /DAppVersion=0.1.0 /DDistDir=<folder with onnx-inspector.exe> /DIconFile=<.ico> onnx-inspector.iss
; The ids below must equal inspector/desktop/identity.py (tests/packaging checks they do).

#ifndef AppVersion
  #error Pass /DAppVersion=X.Y.Z (build.py does)
#endif
#ifndef DistDir
  #error Pass /DDistDir=<PyInstaller output folder> (build.py does)
#endif
#ifndef IconFile
  #error Pass /DIconFile=<onnx-inspector.ico> (build.py does)
#endif

#define AppName "ONNX Inspector"
#define AppExe "onnx-inspector.exe"
#define ProgId "OnnxInspector.Model.1"

[Setup]
; A fixed AppId makes upgrades replace the previous version instead of installing beside it.
AppId={{6F0C2B1E-6A53-4B7E-9D8A-3E1F4C5A7B90}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=ONNX Inspector contributors
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Per-user by default (no UAC prompt); the user may choose an all-users install instead.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; Tells Explorer to reload associations after install and uninstall.
ChangesAssociations=yes
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} {#AppVersion}
OutputBaseFilename=onnx-inspector-{#AppVersion}-setup
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "associate"; Description: "Open .onnx files with {#AppName}"; GroupDescription: "File types:"
Name: "desktopicon"; Description: "Create a desktop shortcut"; GroupDescription: "Shortcuts:"; Flags: unchecked

[Files]
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; HKA is HKCU for a per-user install and HKLM for an all-users one.
; The ProgID: what an .onnx file is, its icon, and how to open it. Removed on uninstall.
Root: HKA; Subkey: "Software\Classes\{#ProgId}"; ValueType: string; ValueName: ""; ValueData: "ONNX model"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#ProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"",0"
Root: HKA; Subkey: "Software\Classes\{#ProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
; "Open with": always offered, whether or not the user lets us become the default.
Root: HKA; Subkey: "Software\Classes\.onnx\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "{#AppName}"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".onnx"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
; The default for .onnx, only if the user ticked the task; uninstall removes it again.
Root: HKA; Subkey: "Software\Classes\.onnx"; ValueType: string; ValueName: ""; ValueData: "{#ProgId}"; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\.onnx"; ValueType: string; ValueName: "Content Type"; ValueData: "application/x-onnx"; Flags: uninsdeletevalue; Tasks: associate

[Run]
Filename: "{app}\{#AppExe}"; Description: "Start {#AppName}"; Flags: nowait postinstall skipifsilent
