// Allure 3 report settings: one self-contained HTML file (opens from file://, no server, no Java).
// `wirelab run` passes the history file of the run's profile and image (WIRELAB_ALLURE_HISTORY), so
// the report's trend views show the last runs; the labels vitest adds by itself say nothing here.
import process from 'node:process';

export default {
  name: 'wirelab',
  output: 'reports/allure-report',
  ...(process.env.WIRELAB_ALLURE_HISTORY ? { historyPath: process.env.WIRELAB_ALLURE_HISTORY, historyLimit: 20 } : {}),
  hideLabels: ['language', 'framework', 'thread'],
  plugins: {
    awesome: {
      options: {
        singleFile: true,
        reportName: 'wirelab qualification',
        reportLanguage: 'en',
      },
    },
  },
};
