//! Windows: job objects instead of process groups, console control events
//! and the service's stop instead of signals, an ACL instead of a file mode.

use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::AsRawHandle;
use std::path::Path;
use std::process::{Child, Command};

use windows_sys::Win32::Foundation::{
    CloseHandle, FILETIME, GENERIC_READ, GENERIC_WRITE, HANDLE, STILL_ACTIVE,
};
use windows_sys::Win32::Security::Authorization::{SetSecurityInfo, SE_FILE_OBJECT};
use windows_sys::Win32::Security::{
    AddAccessAllowedAce, GetLengthSid, GetTokenInformation, InitializeAcl, TokenUser,
    ACCESS_ALLOWED_ACE, ACL, ACL_REVISION, DACL_SECURITY_INFORMATION,
    PROTECTED_DACL_SECURITY_INFORMATION, TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::Storage::FileSystem::{FILE_ALL_ACCESS, WRITE_DAC};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, GetExitCodeProcess, GetProcessTimes, OpenProcess, OpenProcessToken,
    QueryFullProcessImageNameW, TerminateProcess, PROCESS_NAME_WIN32,
    PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_TERMINATE,
};

/// A handle we own, closed on drop.
#[derive(Debug)]
struct OwnedHandle(HANDLE);

// SAFETY: a kernel handle is a process-wide value; any thread may use or
// close it.
unsafe impl Send for OwnedHandle {}
// SAFETY: as above; the calls made through a shared reference are
// thread-safe kernel calls.
unsafe impl Sync for OwnedHandle {}

impl OwnedHandle {
    /// `None` for a null handle (how these APIs report failure).
    fn new(handle: HANDLE) -> Option<OwnedHandle> {
        (!handle.is_null()).then_some(OwnedHandle(handle))
    }
}

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and closed only here.
        unsafe { CloseHandle(self.0) };
    }
}

/// The job object a child was started in: killing it, or closing its
/// last handle (also when this process dies), ends every process in it.
#[derive(Debug)]
pub struct ProcessGroup {
    job: OwnedHandle,
}

impl ProcessGroup {
    /// Terminates every process of the job at once.
    pub fn kill(&mut self) {
        // SAFETY: the job handle is valid while `self` lives.
        unsafe { TerminateJobObject(self.job.0, 1) };
    }
}

/// Starts `command` inside a new job object with
/// `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`: [`ProcessGroup::kill`], dropping
/// the group, or this process dying ends it and every process it started
/// (the processes it starts are in the job too). The child is assigned
/// right after it starts; chromedriver starts no browser before it is
/// asked to, so nothing escapes in between.
pub fn spawn_in_own_group(command: &mut Command) -> io::Result<(Child, ProcessGroup)> {
    let job = new_kill_on_close_job()?;
    let mut child = command.spawn()?;
    let process = child.as_raw_handle() as HANDLE;
    // SAFETY: both handles are valid: the job is ours, the process handle
    // belongs to `child`, which is alive here.
    if unsafe { AssignProcessToJobObject(job.0, process) } == 0 {
        let error = io::Error::last_os_error();
        let _ = child.kill();
        let _ = child.wait();
        return Err(error);
    }
    Ok((child, ProcessGroup { job }))
}

fn new_kill_on_close_job() -> io::Result<OwnedHandle> {
    // SAFETY: null attributes and name create an anonymous job.
    let job = OwnedHandle::new(unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) })
        .ok_or_else(io::Error::last_os_error)?;
    let mut limits = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    // SAFETY: `limits` is the struct this information class expects and
    // outlives the call.
    let set = unsafe {
        SetInformationJobObject(
            job.0,
            JobObjectExtendedLimitInformation,
            std::ptr::from_ref(&limits).cast::<c_void>(),
            size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        )
    };
    if set == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(job)
}

/// Kills the process a previous run recorded. Its job died with that run
/// (kill-on-close), taking the browsers along; this ends the process if it
/// somehow survived.
pub fn kill_recorded_group(pid: u32) {
    // SAFETY: OpenProcess has no memory preconditions.
    if let Some(process) = OwnedHandle::new(unsafe { OpenProcess(PROCESS_TERMINATE, 0, pid) }) {
        // SAFETY: the handle was opened with PROCESS_TERMINATE.
        unsafe { TerminateProcess(process.0, 1) };
    }
}

/// Whether a process with this id still runs.
pub fn is_alive(pid: u32) -> bool {
    // SAFETY: OpenProcess has no memory preconditions.
    let Some(process) =
        OwnedHandle::new(unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) })
    else {
        return false;
    };
    let mut code = 0u32;
    // SAFETY: valid handle, `code` outlives the call.
    let ok = unsafe { GetExitCodeProcess(process.0, &mut code) };
    ok != 0 && code == STILL_ACTIVE as u32
}

/// The process's executable path, or `None` when it is gone or hidden.
pub fn process_command(pid: u32) -> Option<String> {
    // SAFETY: OpenProcess has no memory preconditions.
    let process =
        OwnedHandle::new(unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) })?;
    let mut buffer = vec![0u16; 32 * 1024];
    let mut len = buffer.len() as u32;
    // SAFETY: `buffer` holds `len` u16s and outlives the call.
    let ok = unsafe {
        QueryFullProcessImageNameW(process.0, PROCESS_NAME_WIN32, buffer.as_mut_ptr(), &mut len)
    };
    if ok == 0 {
        return None;
    }
    buffer.truncate(len as usize);
    Some(String::from_utf16_lossy(&buffer))
}

/// When the process was created (a FILETIME, 100 ns units since 1601),
/// which differs between two processes that had the same id; `None` when
/// it is gone or hidden.
pub fn process_start_time(pid: u32) -> Option<u64> {
    // SAFETY: OpenProcess has no memory preconditions.
    let process =
        OwnedHandle::new(unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) })?;
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
    // SAFETY: valid handle; the four FILETIMEs outlive the call.
    let ok =
        unsafe { GetProcessTimes(process.0, &mut created, &mut exited, &mut kernel, &mut user) };
    if ok == 0 {
        return None;
    }
    Some((u64::from(created.dwHighDateTime) << 32) | u64::from(created.dwLowDateTime))
}

/// Resolves on Ctrl-C, Ctrl-Break, the console closing, or the service's
/// stop control ([`super::request_stop`]): the shutdown `main` passes.
pub async fn shutdown_signal() {
    use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
    let ctrl_c = async {
        match ctrl_c() {
            Ok(mut events) => {
                events.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    let ctrl_break = async {
        match ctrl_break() {
            Ok(mut events) => {
                events.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    let close = async {
        match ctrl_close() {
            Ok(mut events) => {
                events.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = ctrl_break => {}
        _ = close => {}
        _ = super::stop_requested() => {}
    }
}

/// Nothing to do: Windows has no SIGXFSZ.
pub fn ignore_sigxfsz() {}

/// Creates `path` (which must not exist) readable and writable by the
/// current user only: the file is opened unshared, then its DACL is
/// replaced by one entry for the user's SID, protected from inheriting the
/// folder's entries (so `%ProgramData%`'s "Users may read" does not apply),
/// before anything is written. Administrators can still take ownership,
/// as with root on Unix.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .share_mode(0)
        .access_mode(GENERIC_READ | GENERIC_WRITE | WRITE_DAC)
        .open(path)?;
    if let Err(e) = restrict_to_current_user(file.as_raw_handle() as HANDLE) {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(file)
}

fn restrict_to_current_user(file: HANDLE) -> io::Result<()> {
    let user = current_user()?;
    let sid = user.sid();
    // SAFETY: `sid` points into `user`, a TOKEN_USER buffer that lives here.
    let sid_len = unsafe { GetLengthSid(sid) } as usize;
    let acl_len = size_of::<ACL>() + size_of::<ACCESS_ALLOWED_ACE>() - size_of::<u32>() + sid_len;
    // u32s: an ACL must be 4-byte aligned.
    let mut acl = vec![0u32; acl_len.div_ceil(4)];
    let acl_ptr = acl.as_mut_ptr().cast::<ACL>();
    let acl_bytes = (acl.len() * 4) as u32;
    // SAFETY: `acl` holds `acl_bytes` bytes, aligned, and outlives every
    // call that uses it; `sid` stays valid while `user` lives.
    unsafe {
        if InitializeAcl(acl_ptr, acl_bytes, ACL_REVISION) == 0
            || AddAccessAllowedAce(acl_ptr, ACL_REVISION, FILE_ALL_ACCESS, sid) == 0
        {
            return Err(io::Error::last_os_error());
        }
        let status = SetSecurityInfo(
            file,
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            acl_ptr,
            std::ptr::null(),
        );
        if status != 0 {
            return Err(io::Error::from_raw_os_error(status as i32));
        }
    }
    Ok(())
}

/// The current process's TOKEN_USER, in a buffer aligned for it.
struct TokenUserBuffer(Vec<u64>);

impl TokenUserBuffer {
    fn sid(&self) -> *mut c_void {
        // SAFETY: the buffer was filled by GetTokenInformation(TokenUser),
        // so it starts with a TOKEN_USER whose SID points into the buffer.
        unsafe { (*self.0.as_ptr().cast::<TOKEN_USER>()).User.Sid }
    }
}

fn current_user() -> io::Result<TokenUserBuffer> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: `token` outlives the call; the pseudo handle needs no closing.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let token = OwnedHandle(token);
    let mut needed = 0u32;
    // SAFETY: asking for the size only (null buffer, length 0).
    unsafe { GetTokenInformation(token.0, TokenUser, std::ptr::null_mut(), 0, &mut needed) };
    let mut buffer = vec![0u64; (needed as usize).div_ceil(8).max(1)];
    let len = (buffer.len() * 8) as u32;
    // SAFETY: `buffer` holds `len` bytes, aligned for TOKEN_USER.
    let ok = unsafe {
        GetTokenInformation(
            token.0,
            TokenUser,
            buffer.as_mut_ptr().cast::<c_void>(),
            len,
            &mut needed,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(TokenUserBuffer(buffer))
}

/// A connection's socket, as the OS names it.
pub type RawSocket = std::os::windows::io::RawSocket;

/// The OS's name for `socket`.
pub fn raw_socket(socket: &impl std::os::windows::io::AsRawSocket) -> RawSocket {
    socket.as_raw_socket()
}

/// Ends both directions of a connection's traffic; its owner still closes it.
///
/// # Safety
/// `socket` must be an open socket for the whole call.
pub unsafe fn shutdown_socket(socket: RawSocket) {
    use windows_sys::Win32::Networking::WinSock::{shutdown, SD_BOTH};
    // SAFETY: the caller keeps `socket` open; shutdown touches no memory.
    unsafe {
        shutdown(socket as usize, SD_BOTH);
    }
}

/// Whether Chromium must run without its sandbox: never on Windows.
pub fn chromium_needs_no_sandbox() -> bool {
    false
}
