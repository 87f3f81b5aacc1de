import { render } from 'preact';
import { App } from './App.tsx';
import { language, setLanguage } from './i18n.ts';
import './styles.css';

setLanguage(language.value);
render(<App />, document.getElementById('app')!);
