// Entry point: one bundle for every page; the path decides which page renders into <main>.
// Links are ordinary links (full page loads), so each page starts clean.
import { h, fill } from './dom.ts';
import { session } from './session.ts';
import { authPage } from './pages/auth-page.ts';
import { dashboardPage } from './pages/dashboard-page.ts';
import { homePage } from './pages/home-page.ts';
import { vodPage } from './pages/vod-page.ts';
import { watchPage } from './pages/watch-page.ts';
import { historyPage } from './pages/history-page.ts';
import { notFound } from './pages/not-found.ts';
import { adminPage } from './pages/admin-page.ts';
import { forgotPasswordPage, resetPasswordPage, verifyEmailPage } from './pages/password-pages.ts';
import { uploadPage } from './pages/upload-page.ts';
import { searchPage } from './pages/search-page.ts';
import { notificationBell } from './notification-bell.ts';

function renderNav(): void {
  const nav = document.getElementById('site-nav');
  if (!nav) return;
  const user = session.user();
  const link = (href: string, text: string) => h('a', { href, ...(location.pathname === href ? { 'aria-current': 'page' } : {}) }, text);
  const staff = user?.role === 'admin' || user?.role === 'moderator';
  fill(
    nav,
    link('/', 'Home'),
    link('/search', 'Search'),
    user ? link('/history', 'History') : null,
    user ? link('/upload', 'Upload') : null,
    user ? link('/dashboard', `Dashboard (${user.username})`) : link('/signin', 'Sign in'),
    staff ? link('/admin', 'Admin') : null,
    user ? null : link('/signup', 'Sign up'),
    user ? (bell ??= notificationBell()) : null,
  );
}
// One bell (and one notification socket) per page, kept across nav re-renders.
let bell: HTMLElement | null = null;

async function route(main: HTMLElement): Promise<void> {
  const path = location.pathname.replace(/\/+$/, '') || '/';
  let m: RegExpExecArray | null;
  if (path === '/') return homePage(main);
  if ((m = /^\/c\/([A-Za-z0-9_]{3,25})$/.exec(path))) return watchPage(main, m[1]!);
  if ((m = /^\/v\/([0-9a-fA-F-]{36})$/.exec(path))) return vodPage(main, m[1]!);
  if (path === '/dashboard') return dashboardPage(main);
  if (path === '/upload') return uploadPage(main);
  if (path === '/search') return searchPage(main);
  if (path === '/history') return historyPage(main);
  if (path === '/signin' || path === '/signup') return authPage(main, path === '/signup' ? 'signup' : 'signin');
  if (path === '/admin') return adminPage(main);
  if (path === '/forgot-password') return forgotPasswordPage(main);
  if (path === '/reset-password') return resetPasswordPage(main);
  if (path === '/verify-email') return verifyEmailPage(main);
  return notFound(main);
}

const main = document.getElementById('main')!;
renderNav();
session.onChange(renderNav);
route(main).catch((err: unknown) => {
  fill(main, h('h1', {}, 'Something went wrong'), h('p', { role: 'alert' }, err instanceof Error ? err.message : String(err)));
});
