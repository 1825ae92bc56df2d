// Allure 3 report settings: one self-contained HTML file (opens from file://, no server, no Java).
export default {
  name: 'wirelab',
  output: 'reports/allure-report',
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
